//! Analytics: what the rollups hold ([`stats`]) and how a selection of them becomes the
//! dashboard's figures and series ([`report`]).

pub mod report;
pub mod stats;
