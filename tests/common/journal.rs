//! A `Journal` for provider tests: it remembers every batch announced and
//! every outcome told, in order, and can refuse to record.

use std::sync::Mutex;

use accessctl::platform::{Change, Journal, Outcome, Settled};

/// What the journal heard.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// A batch about to be sent (`intend`), by index.
    Intend(Vec<usize>),
    /// A change's outcome, with the receipt's handle.
    Settled(usize, Outcome, Option<String>),
}

/// Remembers what it hears; refuses every `intend` when `refuse_intent`
/// (with "disk full"), and every `settled` from the `refuse_after`-th
/// settled change on (with [`REFUSAL`]).
#[derive(Default)]
pub struct Recorder {
    pub heard: Mutex<Vec<Heard>>,
    pub refuse_intent: bool,
    pub refuse_after: Option<usize>,
}

pub const REFUSAL: &str = "cannot write the ledger";

impl Recorder {
    pub fn heard(&self) -> Vec<Heard> {
        self.heard.lock().expect("lock").clone()
    }
}

impl Journal for Recorder {
    fn intend(&self, batch: &[(usize, &Change)]) -> Result<(), String> {
        let mut heard = self.heard.lock().expect("lock");
        heard.push(Heard::Intend(batch.iter().map(|(i, _)| *i).collect()));
        if self.refuse_intent {
            return Err("disk full".to_string());
        }
        Ok(())
    }

    fn settled(&self, results: &[Settled<'_>]) -> Result<(), String> {
        let mut heard = self.heard.lock().expect("lock");
        for r in results {
            heard.push(Heard::Settled(
                r.index,
                r.outcome.clone(),
                r.receipt.as_ref().map(|x| x.handle.clone()),
            ));
        }
        let settled = heard
            .iter()
            .filter(|h| matches!(h, Heard::Settled(..)))
            .count();
        match self.refuse_after {
            Some(n) if settled >= n => Err(REFUSAL.to_string()),
            _ => Ok(()),
        }
    }
}
