//! Analytics: what the rollups hold ([`stats`]), how a selection of them becomes the
//! dashboard's figures and series ([`report`]), and days and hours in the merchant's time
//! zone ([`zone`]).

pub mod report;
pub mod stats;
pub mod zone;
