//! Storage of the catalogue, carts, checkout settings and order handling, on both backends
//! (the same SQL through sqlx's `Any` driver; only full-text search differs by dialect).

mod cart_stats;
mod carts;
mod catalogue;
mod checkout;
mod orders;
mod search;

pub use cart_stats::*;
pub use carts::*;
pub use catalogue::*;
pub use checkout::*;
pub use orders::*;
pub use search::*;
