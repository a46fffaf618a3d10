//! Analytics: what the rollups hold ([`stats`], in `domain`), how a selection of them becomes the
//! dashboard's figures and series ([`report`]), and days and hours in the merchant's time
//! zone ([`zone`]).

pub mod report;
/// What the rollups hold lives with the other plain data (storage reads and writes it too).
pub use crate::domain::stats;
pub mod zone;
