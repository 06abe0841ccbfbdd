//! Integration tests: each test starts the real application over HTTP on
//! `127.0.0.1:0` with a fresh SQLite database and talks to it like a browser
//! (or a hostile client) would.

mod abuse;
mod api_auth;
mod api_bad_input;
mod api_helpers;
mod api_members;
mod api_patch;
mod api_service_tokens;
mod api_tokens;
mod assets;
mod audit;
mod bad_input;
mod bulk_delete;
mod compression;
mod creates;
mod db;
mod faults;
mod forward_auth;
mod helpers;
mod html;
mod instances;
mod leak_reports;
mod members;
mod rotation;
mod security;
mod sessions;
mod sign_in;
mod suspension;
mod throttle;
mod token_lifecycle;
mod token_pages;
mod token_permissions;
mod token_policy;
mod token_sorting;
mod token_support;
