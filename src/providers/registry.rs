//! Providers for the platforms other than Wix, one per platform and
//! credentials, built on first use and shared by every target that uses
//! them (so a project's GTM quota and a service account's token cache are
//! shared too). API base URLs come only from flags or the environment,
//! never from the config, so a config change cannot send a token elsewhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::google::auth::ServiceAccount;
use super::google::ga4::Ga4Provider;
use super::google::gtm::GtmProvider;
use super::google::gtm::limiter::RateWindow;
use crate::platform::{Capabilities, Platform, Provider, ProviderError, Target};

/// Where the Google APIs are, and how long a call may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub ga4: String,
    pub gtm: String,
    pub timeout: Duration,
    pub gtm_rate: RateWindow,
}

type Built<T> = Result<Arc<T>, ProviderError>;

/// A provider's platform and its credentials variable.
type ProviderKey = (Platform, Option<String>);

/// Providers by platform and credentials variable.
pub struct Registry {
    endpoints: Endpoints,
    accounts: Mutex<HashMap<Option<String>, Built<ServiceAccount>>>,
    providers: Mutex<HashMap<ProviderKey, Built<dyn Provider>>>,
}

impl Registry {
    pub fn new(endpoints: Endpoints) -> Self {
        Registry {
            endpoints,
            accounts: Mutex::default(),
            providers: Mutex::default(),
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The provider for `target`: its platform, with the credentials the
    /// target names (`credentials_env`, else Application Default
    /// Credentials). A failure is kept, so every target that needs the same
    /// credentials reports the same error without reading the file again.
    pub fn connect(&self, target: &Target) -> Built<dyn Provider> {
        let key = (target.platform, target.credentials_env.clone());
        let mut providers = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(built) = providers.get(&key) {
            return built.clone();
        }
        let built = self.build(target);
        providers.insert(key, built.clone());
        built
    }

    /// The service account a target's credentials name (shared).
    pub fn account(&self, var: Option<&str>) -> Built<ServiceAccount> {
        let key = var.map(str::to_string);
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts
            .entry(key)
            .or_insert_with(|| ServiceAccount::from_env(var).map(Arc::new))
            .clone()
    }

    fn build(&self, target: &Target) -> Built<dyn Provider> {
        let e = &self.endpoints;
        match target.platform {
            Platform::Ga4 => {
                let account = self.account(target.credentials_env.as_deref())?;
                Ok(Arc::new(Ga4Provider::new(&e.ga4, account, e.timeout)?))
            }
            Platform::Gtm => {
                let account = self.account(target.credentials_env.as_deref())?;
                Ok(Arc::new(GtmProvider::new(
                    &e.gtm, account, e.timeout, e.gtm_rate,
                )?))
            }
            Platform::Wix => Err(ProviderError::new(
                "Wix sites are read by the Wix client, not through the registry",
            )),
        }
    }
}

/// What a platform's provider declares, without building one (no
/// credentials): what planning from a snapshot needs.
pub fn capabilities(platform: Platform, gtm_rate: RateWindow) -> Capabilities {
    match platform {
        Platform::Ga4 => super::google::ga4::capabilities(),
        Platform::Gtm => super::google::gtm::capabilities(gtm_rate),
        Platform::Wix => super::wix::CAPABILITIES,
    }
}
