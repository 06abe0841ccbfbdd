//! The "Copy your new token" panel, shown once after create, clone and reset.

use askama::Template;

#[derive(Template)]
#[template(path = "tokens/secret_dialog.html")]
pub struct SecretDialog<'a> {
    pub secret: &'a str,
    pub token_id: &'a str,
    pub in_dialog: bool,
}
