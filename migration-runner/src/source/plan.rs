//! A planned step: one pending migration (or one to roll back) and the exact
//! SQL it will run. What `plan` prints, `up` applies, and the phases that
//! judge a plan before it runs read (preflight, the runtime roles' names,
//! Citus's placement). It sits below all of them and imports only `capture`.

use crate::source::capture::Script;

/// A pending migration and the exact SQL it will run.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub schema: String,
    pub transactional: bool,
    pub out_of_order: bool,
    /// Its `up` emits no statement yet: `up` refuses it.
    pub unwritten: bool,
    pub script: Script,
}
