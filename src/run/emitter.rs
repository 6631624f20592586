//! The executor's one way out: events stamped with the time since the run
//! started, sent to whoever reports them. It never prints.

use std::sync::mpsc::Sender;
use std::time::Instant;

use super::events::{Event, EventKind};

/// Sends events stamped with the time since the run started.
#[derive(Clone)]
pub struct Emitter {
    tx: Sender<Event>,
    started: Instant,
}

impl Emitter {
    pub fn new(tx: Sender<Event>, started: Instant) -> Self {
        Emitter { tx, started }
    }

    pub fn emit(&self, kind: EventKind) {
        let _ = self.tx.send(Event {
            at: self.started.elapsed(),
            kind,
        });
    }
}
