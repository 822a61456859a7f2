use breeze_client::BreezeClient;
use breeze_proto::api::{SetupRequest, TokenPair};
use breeze_server::{App, AppState, Config};
use tempfile::TempDir;

pub const ADMIN_EMAIL: &str = "ann@acme.test";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub client: BreezeClient,
    pub state: AppState,
    pub dir: TempDir,
    pub engine: &'static str,
    #[allow(dead_code)]
    pub database_url: String,
    /// The separate `[metrics] listen` address, when the test set one.
    #[allow(dead_code)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The engines to run engine-sensitive tests on: SQLite always, PostgreSQL when
/// `BREEZE_TEST_DATABASE_URL` is set (CI sets it).
pub fn engines() -> Vec<Engine> {
    let mut v = vec![Engine::Sqlite];
    if std::env::var("BREEZE_TEST_DATABASE_URL").is_ok() {
        v.push(Engine::Postgres);
    }
    v
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    // The smallest parameters validation allows: tests hash many passwords.
    c.auth.argon2_memory_kib = 8192;
    c.auth.argon2_iterations = 1;
    // Names resolve without the network: `localhost` is loopback, nothing else exists.
    c.outbound.resolver = breeze_server::notify::resolve::Resolver::from_fn(local_names);
    // A queued job is retried soon, and the worker looks often.
    c.outbound.retry_base_millis = 200;
    c.outbound.queue_poll_millis = 100;
    c
}

/// The test resolver: `localhost` only.
pub fn local_names(host: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
    match host.trim_end_matches('.').to_ascii_lowercase().as_str() {
        "localhost" => Ok(vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
        ]),
        _ => Err(std::io::ErrorKind::NotFound.into()),
    }
}

pub async fn spawn(engine: Engine, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_clocked(engine, None, tweak).await
}

/// [`spawn`] with the server's Clock under the test's control (alert windows, escalation,
/// retries).
pub async fn spawn_clocked(
    engine: Engine,
    clock: Option<std::sync::Arc<dyn breeze_core::Clock>>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = fresh_database(engine, dir.path()).await;
    start(engine, dir, database_url, clock, None, tweak).await
}

/// Two servers on one fresh database and one in-process cluster bus: two replicas, as
/// PostgreSQL and NATS make them (on SQLite too: both open the same file).
#[allow(dead_code)]
pub async fn spawn_pair(engine: Engine) -> (TestApp, TestApp) {
    let bus: std::sync::Arc<dyn breeze_server::cluster::PubSub> =
        std::sync::Arc::new(breeze_server::cluster::LocalBus::default());
    // The replicas of one cluster share its keys (the README's "Running several replicas").
    let key = || {
        use base64::Engine as _;
        let raw: [u8; 32] = rand::random();
        secrecy::SecretString::from(base64::engine::general_purpose::STANDARD.encode(raw))
    };
    let (master, signing) = (key(), key());
    let keys = |c: &mut Config| {
        c.master_key = Some(master.clone());
        c.signing_key = Some(signing.clone());
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = fresh_database(engine, dir.path()).await;
    let a = start(
        engine,
        dir,
        database_url.clone(),
        None,
        Some(bus.clone()),
        keys,
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = start(engine, dir, database_url, None, Some(bus), keys).await;
    (a, b)
}

/// A database of its own for one test: a SQLite file in `dir`, or a fresh PostgreSQL
/// schema.
async fn fresh_database(engine: Engine, dir: &std::path::Path) -> String {
    match engine {
        Engine::Sqlite => test_config(dir).database_url(),
        Engine::Postgres => {
            let base = std::env::var("BREEZE_TEST_DATABASE_URL").expect("BREEZE_TEST_DATABASE_URL");
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            // Create the schema, then point the server at it through search_path.
            breeze_store::Db::connect_pg_schema(
                &base,
                &schema,
                &breeze_store::DbOptions { max_connections: 1 },
            )
            .await
            .unwrap_or_else(|e| {
                panic!("BREEZE_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
            })
            .close()
            .await;
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

/// Starts a server on `dir` and `database_url` (a fresh one, or a stopped one's).
async fn start(
    engine: Engine,
    dir: TempDir,
    database_url: String,
    clock: Option<std::sync::Arc<dyn breeze_core::Clock>>,
    bus: Option<std::sync::Arc<dyn breeze_server::cluster::PubSub>>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = test_config(dir.path());
    config.database_url = Some(database_url.clone());
    config.db_max_connections = 8;
    tweak(&mut config);
    let clock = clock.unwrap_or_else(|| std::sync::Arc::new(breeze_core::SystemClock));
    let app = App::build_with(config, clock, bus)
        .await
        .expect("build app");
    let addr = app.local_addr().expect("addr");
    let metrics_addr = app.metrics_addr().expect("metrics addr");
    let state = app.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    let client = BreezeClient::new(&format!("http://{addr}")).expect("client");
    TestApp {
        client,
        state,
        dir,
        engine: match engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        },
        database_url,
        metrics_addr,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

pub async fn spawn_sqlite() -> TestApp {
    spawn(Engine::Sqlite, |_| {}).await
}

impl TestApp {
    /// Stops the server (its jobs too) and starts another on the same database and data
    /// directory (same keys), as after a restart.
    #[allow(dead_code)]
    pub async fn restart(
        mut self,
        clock: Option<std::sync::Arc<dyn breeze_core::Clock>>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        let engine = if self.engine == "postgres" {
            Engine::Postgres
        } else {
            Engine::Sqlite
        };
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        start(engine, dir, self.database_url.clone(), clock, None, tweak).await
    }

    /// Another server on the same database (a second replica), with a data directory
    /// of its own.
    #[allow(dead_code)]
    pub async fn replica(
        &self,
        clock: Option<std::sync::Arc<dyn breeze_core::Clock>>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let engine = if self.engine == "postgres" {
            Engine::Postgres
        } else {
            Engine::Sqlite
        };
        let dir = tempfile::tempdir().expect("tempdir");
        start(engine, dir, self.database_url.clone(), clock, None, tweak).await
    }

    /// Stops the server as a shutdown does (its jobs flush and give up their leases) and
    /// waits until it has.
    #[allow(dead_code)]
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    pub fn setup_token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("setup-token"))
            .expect("setup token file")
            .trim()
            .to_string()
    }

    /// Completes setup: partner "Acme IT" with its admin; answers the admin's tokens.
    pub async fn setup_admin(&self) -> TokenPair {
        self.setup_partner("Acme IT", ADMIN_EMAIL).await
    }

    pub async fn setup_partner(&self, partner: &str, email: &str) -> TokenPair {
        self.client
            .setup(&SetupRequest {
                setup_token: self.setup_token(),
                partner_name: partner.into(),
                admin_name: "Admin".into(),
                admin_email: email.into(),
                admin_password: PASSWORD.into(),
            })
            .await
            .expect("setup")
    }

    pub async fn admin(&self) -> BreezeClient {
        let t = self.setup_admin().await;
        self.client.with_token(t.access_token)
    }
}

/// A second partner, created by a platform operator; answers its admin
/// (partner "Bolt MSP", admin `pa@bolt.test`).
pub async fn second_partner(app: &TestApp) -> BreezeClient {
    let email = breeze_core::validate::Email::parse("e", "operator@platform.test").expect("email");
    let hash = app.state.hasher.hash(PASSWORD).expect("hash");
    let mut tx = app.state.db.begin().await.expect("tx");
    breeze_store::users::insert(
        &mut tx,
        &breeze_store::users::NewUser {
            email: &email,
            name: "Op",
            password_hash: Some(&hash),
            status: "active",
            is_platform_admin: true,
        },
        chrono::Utc::now(),
    )
    .await
    .expect("operator");
    tx.commit().await.expect("commit");
    let op = app
        .client
        .login_as("operator@platform.test", PASSWORD)
        .await
        .expect("operator login");
    let created: breeze_proto::api::PartnerCreated = op
        .post(
            "/api/v1/partners",
            &serde_json::json!({"name": "Bolt MSP", "admin_email": "pa@bolt.test", "admin_name": "B"}),
        )
        .await
        .expect("partner");
    let t = app
        .client
        .accept_invite(&created.admin_invite_token.expect("invite"), PASSWORD)
        .await
        .expect("accept");
    app.client.with_token(t.access_token)
}

/// A customer organization with nothing but a name set.
pub async fn create_org(admin: &BreezeClient, name: &str) -> breeze_proto::api::Organization {
    admin
        .create_org(&breeze_proto::api::CreateOrganization {
            name: name.into(),
            slug: None,
            org_type: None,
            status: None,
            max_devices: None,
            settings: None,
            contract_start: None,
            contract_end: None,
            billing_contact: None,
        })
        .await
        .expect("org")
}
