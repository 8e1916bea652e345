//! Microsoft's side: signing in to Entra ID as the app, and the Graph call that revokes.

pub mod graph;
pub mod token;
