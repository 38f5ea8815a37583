//! Who accepted which invitation, on a platform that names a principal by
//! its own id once it accepts, while the invitation went to an email (Wix
//! today; Google Ads, Meta and TikTok alike). Pure and platform-neutral:
//! the caller says which principals nothing yet ties to an email
//! ([`Stranger`]) and which invitations are still open ([`Invitation`]),
//! and gets back what can be concluded ([`Finding`]), never a guess.
//!
//! [`IdentityBook`] holds what is already known (email → id, and where
//! each comes from); [`match_invitations`] finds what an acceptance adds.
//!
//! The rule: a principal that was not there when an invitation was sent
//! and holds exactly the invitation's roles is a candidate for it. When an
//! invitation has exactly one candidate and that principal is a candidate
//! for no other invitation, it is the person the invitation went to.
//! Anything less certain is reported for a person to settle.

use std::collections::{BTreeMap, BTreeSet};

/// The ids the config declares for its people on a platform (Wix:
/// `wix_account_id`).
pub trait Declared {
    /// The id declared for the person with this email.
    fn id_of_email(&self, email: &str) -> Option<&str>;
    /// Emails of the people declared with this id, sorted.
    fn emails_of_id(&self, id: &str) -> &[String];
}

/// Where the id an [`IdentityBook`] gives for an email comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Matched to an accepted invitation in this run.
    Matched,
    /// Declared in the config.
    Declared,
    /// Recorded when an earlier run matched it (the ledger).
    Recorded,
}

/// Who is who on one target: email → platform id from the matches made in
/// this run, else the config's declarations, else the records of earlier
/// matches; looked up through indexes, with the answers one map merged in
/// that order would give.
pub struct IdentityBook<'a> {
    declared: &'a dyn Declared,
    /// The records (the last one for an email wins).
    recorded: BTreeMap<&'a str, &'a str>,
    /// The same, by id.
    recorded_by_id: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Matches made in this run, email → id.
    matched: BTreeMap<String, String>,
}

impl<'a> IdentityBook<'a> {
    /// `recorded`: (email, id) pairs, later ones overriding earlier ones.
    pub fn new(
        declared: &'a dyn Declared,
        recorded: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let recorded: BTreeMap<&str, &str> = recorded.into_iter().collect();
        let mut recorded_by_id: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (email, id) in &recorded {
            recorded_by_id.entry(id).or_default().insert(email);
        }
        IdentityBook {
            declared,
            recorded,
            recorded_by_id,
            matched: BTreeMap::new(),
        }
    }

    /// The id known for an email.
    pub fn id_of(&self, email: &str) -> Option<&str> {
        self.matched
            .get(email)
            .map(String::as_str)
            .or_else(|| self.declared.id_of_email(email))
            .or_else(|| self.recorded.get(email).copied())
    }

    /// Where the id [`IdentityBook::id_of`] gives comes from.
    pub fn source(&self, email: &str) -> Option<Known> {
        if self.matched.contains_key(email) {
            Some(Known::Matched)
        } else if self.declared.id_of_email(email).is_some() {
            Some(Known::Declared)
        } else if self.recorded.contains_key(email) {
            Some(Known::Recorded)
        } else {
            None
        }
    }

    /// The first email (in sorted order) whose id is `id`.
    pub fn email_of(&self, id: &str) -> Option<&str> {
        let matched = self
            .matched
            .iter()
            .filter(|(_, m)| *m == id)
            .map(|(e, _)| e.as_str());
        let declared = self.declared.emails_of_id(id).iter().map(String::as_str);
        let recorded = self.recorded_by_id.get(id).into_iter().flatten().copied();
        matched
            .chain(declared)
            .chain(recorded)
            .filter(|e| self.id_of(e) == Some(id))
            .min()
    }

    /// Notes that the person invited at `email` is `id` (this run's match).
    pub fn record_match(&mut self, email: &str, id: &str) {
        self.matched.insert(email.to_string(), id.to_string());
    }

    /// Whether this run matched some email to `id`.
    pub fn is_matched_id(&self, id: &str) -> bool {
        self.matched.values().any(|m| m == id)
    }

    /// Whether a record ties some email to `id`.
    pub fn is_recorded_id(&self, id: &str) -> bool {
        self.recorded_by_id.contains_key(id)
    }
}

/// A principal the platform lists by id alone, that nothing (config,
/// ledger, an earlier match) ties to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranger<'a> {
    pub id: &'a str,
    /// The roles it holds.
    pub roles: BTreeSet<&'a str>,
}

/// An invitation still open, or sent with an unknown outcome, to an email
/// no principal is yet known to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation<'a> {
    pub email: &'a str,
    /// The roles it grants once accepted.
    pub roles: BTreeSet<&'a str>,
    /// Principals already there when it was sent: none of them accepted it.
    pub present_when_sent: &'a [String],
}

/// What [`match_invitations`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding<'a> {
    /// The principal `id` accepted the invitation at `invitation` (an index
    /// into the invitations given).
    Accepted { id: &'a str, invitation: usize },
    /// The principal `id` is the only candidate of several invitations
    /// (`emails`, sorted): which one it accepted cannot be told. Reported
    /// once, for the first of them.
    OneForSeveral { id: &'a str, emails: Vec<&'a str> },
    /// The invitation to `email` has several candidates (`ids`, in the
    /// order given).
    SeveralForOne { email: &'a str, ids: Vec<&'a str> },
}

/// The findings, in the order of the invitations.
pub fn match_invitations<'a>(
    strangers: &[Stranger<'a>],
    invitations: &[Invitation<'a>],
) -> Vec<Finding<'a>> {
    let candidates: Vec<Vec<&'a str>> = invitations
        .iter()
        .map(|invitation| {
            strangers
                .iter()
                .filter(|s| {
                    !invitation.present_when_sent.iter().any(|p| p == s.id)
                        && s.roles == invitation.roles
                })
                .map(|s| s.id)
                .collect()
        })
        .collect();
    let mut findings = Vec::new();
    for (at, (invitation, ids)) in invitations.iter().zip(&candidates).enumerate() {
        match ids.as_slice() {
            [] => {}
            [id] => {
                let mut rivals: Vec<&str> = invitations
                    .iter()
                    .zip(&candidates)
                    .filter(|(_, ids)| ids.contains(id))
                    .map(|(i, _)| i.email)
                    .collect();
                // Sorted, so the finding does not depend on the order given.
                rivals.sort_unstable();
                rivals.dedup();
                if rivals.len() == 1 {
                    findings.push(Finding::Accepted { id, invitation: at });
                } else if rivals.first() == Some(&invitation.email) {
                    findings.push(Finding::OneForSeveral { id, emails: rivals });
                }
            }
            several => findings.push(Finding::SeveralForOne {
                email: invitation.email,
                ids: several.to_vec(),
            }),
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Declarations as a config's people give them.
    struct People(Vec<(String, String)>);

    impl Declared for People {
        fn id_of_email(&self, email: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(e, _)| e == email)
                .map(|(_, id)| id.as_str())
        }

        fn emails_of_id(&self, id: &str) -> &[String] {
            // One person per id in these tests.
            match self.0.iter().position(|(_, i)| i == id) {
                Some(at) => std::slice::from_ref(&self.0[at].0),
                None => &[],
            }
        }
    }

    #[test]
    fn a_match_outranks_the_config_which_outranks_the_records() {
        let people = People(vec![("a@example.com".into(), "declared".into())]);
        let mut book = IdentityBook::new(
            &people,
            [
                ("a@example.com", "recorded-a"),
                ("b@example.com", "recorded-old"),
                ("b@example.com", "recorded-b"),
            ],
        );
        assert_eq!(book.id_of("a@example.com"), Some("declared"));
        assert_eq!(book.source("a@example.com"), Some(Known::Declared));
        // The last record for an email wins.
        assert_eq!(book.id_of("b@example.com"), Some("recorded-b"));
        assert_eq!(book.source("b@example.com"), Some(Known::Recorded));
        assert_eq!(book.source("c@example.com"), None);

        book.record_match("a@example.com", "matched");
        assert_eq!(book.id_of("a@example.com"), Some("matched"));
        assert_eq!(book.source("a@example.com"), Some(Known::Matched));
        assert!(book.is_matched_id("matched"));
        assert!(book.is_recorded_id("recorded-b"));
        assert!(!book.is_recorded_id("recorded-old"));
    }

    #[test]
    fn an_id_is_named_by_the_first_email_that_still_resolves_to_it() {
        let people = People(vec![("z@example.com".into(), "acct-1".into())]);
        let book = IdentityBook::new(
            &people,
            [
                // Recorded for acct-1, but the config now says otherwise.
                ("z@example.com", "acct-2"),
                ("y@example.com", "acct-1"),
            ],
        );
        assert_eq!(book.email_of("acct-1"), Some("y@example.com"));
        // z's record points at acct-2, but z resolves to acct-1.
        assert_eq!(book.email_of("acct-2"), None);
    }

    fn stranger<'a>(id: &'a str, roles: &[&'a str]) -> Stranger<'a> {
        Stranger {
            id,
            roles: roles.iter().copied().collect(),
        }
    }

    fn invitation<'a>(email: &'a str, roles: &[&'a str], present: &'a [String]) -> Invitation<'a> {
        Invitation {
            email,
            roles: roles.iter().copied().collect(),
            present_when_sent: present,
        }
    }

    #[test]
    fn the_only_candidate_of_an_invitation_accepted_it() {
        let found = match_invitations(
            &[stranger("a1", &["editor"]), stranger("a2", &["viewer"])],
            &[invitation("x@example.com", &["viewer"], &[])],
        );
        assert_eq!(
            found,
            vec![Finding::Accepted {
                id: "a2",
                invitation: 0
            }]
        );
    }

    #[test]
    fn roles_must_match_exactly_and_those_present_at_sending_are_ruled_out() {
        let present = vec!["a1".to_string()];
        let found = match_invitations(
            &[
                stranger("a1", &["viewer"]),
                stranger("a2", &["viewer", "editor"]),
            ],
            &[invitation("x@example.com", &["viewer"], &present)],
        );
        assert_eq!(found, vec![]);
    }

    #[test]
    fn one_principal_for_two_invitations_is_reported_once_never_linked() {
        let found = match_invitations(
            &[stranger("a1", &["viewer"])],
            &[
                invitation("z@example.com", &["viewer"], &[]),
                invitation("b@example.com", &["viewer"], &[]),
            ],
        );
        assert_eq!(
            found,
            vec![Finding::OneForSeveral {
                id: "a1",
                emails: vec!["b@example.com", "z@example.com"]
            }]
        );
    }

    #[test]
    fn two_principals_for_one_invitation_are_reported_never_linked() {
        let found = match_invitations(
            &[stranger("a1", &["viewer"]), stranger("a2", &["viewer"])],
            &[invitation("x@example.com", &["viewer"], &[])],
        );
        assert_eq!(
            found,
            vec![Finding::SeveralForOne {
                email: "x@example.com",
                ids: vec!["a1", "a2"]
            }]
        );
    }

    #[test]
    fn an_invitation_with_a_clear_match_is_linked_beside_an_ambiguous_one() {
        // a1 matches only x's invitation; a2 and a3 both match y's.
        let found = match_invitations(
            &[
                stranger("a1", &["editor"]),
                stranger("a2", &["viewer"]),
                stranger("a3", &["viewer"]),
            ],
            &[
                invitation("y@example.com", &["viewer"], &[]),
                invitation("x@example.com", &["editor"], &[]),
            ],
        );
        assert_eq!(
            found,
            vec![
                Finding::SeveralForOne {
                    email: "y@example.com",
                    ids: vec!["a2", "a3"]
                },
                Finding::Accepted {
                    id: "a1",
                    invitation: 1
                },
            ]
        );
    }
}
