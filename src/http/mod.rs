//! HTTP plumbing both front doors (pages and API) share: who the client is,
//! the body limit, the headers every response carries, compression,
//! reading a token id from a route, and counting open connections.

pub mod client_ip;
pub mod compression;
pub mod drain;
pub mod limits;
pub mod security;
pub mod token_id;

pub use client_ip::ClientIp;
pub use token_id::TokenId;
