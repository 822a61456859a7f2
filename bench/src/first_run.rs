//! First-run setup of a fresh `breeze serve`, as the benchmarks start it: the admin, one
//! organization and one site.

use anyhow::{Context as _, Result};
use breeze_client::BreezeClient;
use breeze_proto::api::SetupRequest;
use serde_json::{Value, json};
use std::path::Path;

/// The admin who set the server up, with the organization and site made for the run.
pub struct FirstRun {
    pub admin: BreezeClient,
    pub email: String,
    pub password: String,
    pub org_id: String,
    pub site_id: String,
}

/// Finishes first-run setup of the server at `server` (its data directory holds
/// `setup-token`) as `"{label} Admin"` and creates `"{label} Org"` and `"{label} Site"`.
pub async fn first_run(server: &str, setup_data_dir: &Path, label: &str) -> Result<FirstRun> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let api = BreezeClient::new(server)?;
    let token = std::fs::read_to_string(setup_data_dir.join("setup-token"))
        .context("reading setup-token")?;
    let email = format!("{}@example.com", label.to_lowercase());
    let password = format!("{label}-Test-Password-42!");
    let t = api
        .setup(&SetupRequest {
            setup_token: token.trim().to_string(),
            partner_name: label.into(),
            admin_name: format!("{label} Admin"),
            admin_email: email.clone(),
            admin_password: password.clone(),
        })
        .await?;
    let admin = api.with_token(t.access_token);
    let org: Value = admin
        .post("/api/v1/orgs", &json!({"name": format!("{label} Org")}))
        .await?;
    let org_id = org["id"].as_str().context("org id")?.to_string();
    let site: Value = admin
        .post(
            &format!("/api/v1/orgs/{org_id}/sites"),
            &json!({"name": format!("{label} Site")}),
        )
        .await?;
    let site_id = site["id"].as_str().context("site id")?.to_string();
    Ok(FirstRun {
        admin,
        email,
        password,
        org_id,
        site_id,
    })
}
