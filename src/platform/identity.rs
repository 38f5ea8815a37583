//! Who accepted which invitation, on a platform that names a principal by
//! its own id once it accepts, while the invitation went to an email (Wix
//! today; Google Ads, Meta and TikTok alike). Pure and platform-neutral:
//! the caller says which principals nothing yet ties to an email
//! ([`Stranger`]) and which invitations are still open ([`Invitation`]),
//! and gets back what can be concluded ([`Finding`]), never a guess.
//!
//! The rule: a principal that was not there when an invitation was sent
//! and holds exactly the invitation's roles is a candidate for it. When an
//! invitation has exactly one candidate and that principal is a candidate
//! for no other invitation, it is the person the invitation went to.
//! Anything less certain is reported for a person to settle.

use std::collections::BTreeSet;

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
