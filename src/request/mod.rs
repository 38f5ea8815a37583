//! Request mode: asking a site's owner to grant access the agency cannot
//! grant itself.
//!
//! A site without `api_key_env` cannot be read or changed over the API; only
//! its owner can add collaborators. For such sites `plan` composes one
//! message to the owner listing each person and role, with the exact steps in
//! the Wix dashboard, and `apply` delivers it through a channel configured
//! once in the config's `requests:` block: email over SMTP ([`smtp`]) or a
//! signed JSON webhook ([`webhook`]). The ledger remembers each request, so a
//! second `apply` sends nothing new, one reminder goes after an interval, and
//! after the last reminder the request is reported as stalled.
//!
//! The validated settings are model types ([`crate::model::requests`]).
//! Composing the message is pure ([`crate::message`], from a
//! [`crate::template::Template`]) and is called by the plan engine; deciding
//! what is due is `plan::request`'s job. Only [`smtp`], [`webhook`] and
//! [`deliver`] do I/O, and only when `apply` runs. Credentials and the
//! webhook URL are read from environment variables at that moment, never
//! from the config file, and are held in [`crate::secret::ApiKey`] so they
//! cannot be printed.

pub mod deliver;
pub mod smtp;
pub mod webhook;

pub use deliver::Courier;
