//! A local stand-in for the Microsoft Entra ID token endpoint (client credentials, with a client
//! secret or a certificate assertion) and Microsoft Graph's two session-revoke actions, so tests
//! and demos exercise the real wire protocol on 127.0.0.1 and never reach Microsoft. Graph's
//! user lookups (by id or UPN, or `$filter=mail eq '…'`) and `checkMemberGroups` are served
//! from a small directory ([`Standin::add_user`], [`Standin::add_group`]).
//!
//! Behaviour follows Microsoft's documentation and observed replies; where the two differ
//! (`invalidateAllRefreshTokens` is documented as `204` but, like `revokeSignInSessions`, answers
//! `200 {"value":true}`), the observed reply is the default and the documented one a switch
//! ([`Config::invalidate_returns_no_content`]).

mod assertion;
pub mod cli;
mod control;
mod directory;
mod entra;
mod graph;
mod graph_path;
mod intune;
mod records;
mod stamp;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use intune::{AuditFilter, ManagedDevice};
pub use records::{DirectoryUser, Fault, GraphCall, Revocation, TokenAttempt, TokenFault};

use state::Shared;

/// What the stand-in accepts: one tenant, one app registration, Graph in one cloud.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tenant as it appears in the token URL path (compared case-insensitively).
    pub tenant: String,
    /// The app registration's client id (GUID).
    pub client_id: String,
    /// Accepted client secrets; empty disables secret authentication.
    pub client_secrets: Vec<String>,
    /// The registered certificate (PEM) for client assertions; `None` disables them.
    pub certificate_pem: Option<String>,
    /// Graph host; the only accepted scope is `https://{graph_host}/.default`.
    pub graph_host: String,
    /// `expires_in` of issued tokens, and how long Graph accepts them.
    pub token_lifetime: Duration,
    /// `None`: every user exists. `Some(list)`: others get 404 (case-insensitive), except users
    /// added with [`Standin::add_user`]. A listed UPN is also found by the object id the
    /// stand-in gives it (what a lookup of that UPN returns).
    pub known_users: Option<Vec<String>>,
    /// Answer `invalidateAllRefreshTokens` with its documented `204 No Content` instead of the
    /// `200 {"value":true}` the live service sends (Graph known issue "Revoke sign-in sessions
    /// returns wrong HTTP code"; the beta page notes the same for this action).
    pub invalidate_returns_no_content: bool,
    /// Reject assertions whose lifetime (`exp` − `nbf`, else `exp` − `iat`) exceeds this.
    /// `None` (default) like Entra, whose docs say it "doesn't place restrictions on the exp
    /// time currently" and only advise 5-10 minutes.
    pub max_assertion_lifetime: Option<Duration>,
    /// Write one line per request to stderr (never a secret, token or assertion).
    pub log_requests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secrets: Vec::new(),
            certificate_pem: None,
            graph_host: "graph.microsoft.com".into(),
            token_lifetime: Duration::from_secs(3599),
            known_users: None,
            invalidate_returns_no_content: false,
            max_assertion_lifetime: None,
            log_requests: false,
        }
    }
}

/// A running stand-in. Dropping it stops the server; [`Standin::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct Standin {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// How long a graceful shutdown waits for in-flight requests (a `Slow` fault may be sleeping).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Standin {
    /// Binds 127.0.0.1:`port` (0 = any free port) and serves in a tokio task until dropped or
    /// shut down. Fails with `InvalidInput` when `certificate_pem` is not an RSA certificate.
    pub async fn start(config: Config, port: u16) -> std::io::Result<Standin> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared::new(config, base_url).map_err(invalid_input)?);
        let app = control::router()
            .merge(entra::router())
            .fallback(graph::handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender also means stop.
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                eprintln!("entra-graph-standin: server error: {error}");
            }
        });
        Ok(Standin {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: both the authority URL and the Graph URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{url}/{tenant}/oauth2/v2.0/token`, also the `aud` a client assertion must carry.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.url(), self.shared.tenant())
    }

    /// Every POST to the token endpoint, accepted or not.
    pub fn token_requests(&self) -> usize {
        self.shared.read(|s| s.token_requests)
    }

    /// Access tokens issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.read(|s| s.tokens_issued)
    }

    /// Every access token issued so far, for tests that check none was logged.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.read(|s| s.tokens.keys().cloned().collect())
    }

    /// One record per token POST, in arrival order: credential kind, status, AADSTS code.
    pub fn token_attempts(&self) -> Vec<TokenAttempt> {
        self.shared.read(|s| s.token_attempts.clone())
    }

    /// Every request that reached Graph (anything but the token and control routes), in
    /// arrival order, faulted and rejected ones included.
    pub fn graph_calls(&self) -> Vec<GraphCall> {
        self.shared.read(|s| s.graph_calls.clone())
    }

    /// Successful revocations only, in order.
    pub fn revocations(&self) -> Vec<Revocation> {
        self.shared.read(|s| s.revocations.clone())
    }

    /// The next revoke calls for `user` (decoded, case-insensitive) get these faults in order,
    /// after any already queued for that user; then normal behaviour resumes. A request that
    /// fails authentication does not consume a fault. Lookups and membership checks have
    /// their own queues ([`Standin::fail_next_lookup`], [`Standin::fail_next_membership`]).
    pub fn fail_next(&self, user: &str, faults: Vec<Fault>) {
        self.shared.write(|s| s.queue_faults(user, faults));
    }

    /// Drops the revoke faults still queued for `user`: Graph answers normally for them again.
    pub fn recover(&self, user: &str) {
        self.shared.write(|s| s.clear_faults(user));
    }

    /// Adds `user` to the directory (replacing one with the same id): lookups by its id or UPN
    /// and `mail` filters find it, and it can be revoked whatever `known_users` lists.
    pub fn add_user(&self, user: DirectoryUser) {
        self.shared.write(|s| s.directory.add_user(user));
    }

    /// Adds `members` (user object ids or UPNs, or other group ids) to the group `group_id`.
    /// Membership is transitive through nested groups, as `checkMemberGroups` reports it.
    pub fn add_group(&self, group_id: &str, members: &[&str]) {
        self.shared
            .write(|s| s.directory.add_group(group_id, members));
    }

    /// The next user lookups of `reference` (`GET users/{reference}`, or
    /// `GET users?$filter=mail eq '{reference}'`; case-insensitive) get these faults in order,
    /// apart from the revoke faults of [`Standin::fail_next`].
    pub fn fail_next_lookup(&self, reference: &str, faults: Vec<Fault>) {
        self.shared
            .write(|s| s.queue_faults(&directory::lookup_key(reference), faults));
    }

    /// The next `checkMemberGroups` of `user` (as the path names it; case-insensitive) get
    /// these faults in order, apart from lookup and revoke faults.
    pub fn fail_next_membership(&self, user: &str, faults: Vec<Fault>) {
        self.shared
            .write(|s| s.queue_faults(&directory::membership_key(user), faults));
    }

    /// The next token requests get these faults in order (before any validation).
    pub fn fail_token_next(&self, faults: Vec<TokenFault>) {
        self.shared.write(|s| s.token_faults.extend(faults));
    }

    /// Replaces the accepted client secrets (rotation at Entra).
    pub fn set_client_secrets(&self, secrets: Vec<String>) {
        self.shared.write(|s| s.client_secrets = secrets);
    }

    /// Replaces the registered certificate (rotation at Entra); `None` removes it.
    pub fn set_certificate_pem(&self, pem: Option<String>) -> std::io::Result<()> {
        let certificate = pem
            .as_deref()
            .map(assertion::Certificate::from_pem)
            .transpose();
        let certificate = certificate.map_err(invalid_input)?;
        self.shared.write(|s| s.certificate = certificate);
        Ok(())
    }

    /// Adds Intune audit records (`remoteActionAudit` objects), listed in this order.
    pub fn add_audit_records(&self, records: Vec<serde_json::Value>) {
        self.shared.write(|s| s.audits.extend(records));
    }

    /// Seeds the demo's Intune tenant: two lost-mode records (a Windows and a macOS device)
    /// and a remote lock, requested minutes ago.
    pub fn seed_intune_demo(&self) {
        let (records, devices) = intune::demo();
        self.add_audit_records(records);
        for device in devices {
            self.add_managed_device(device);
        }
    }

    /// Replaces every audit record with `records` (a benchmark gives each spawn its own).
    pub fn replace_audit_records(&self, records: Vec<serde_json::Value>) {
        self.shared.write(|s| s.audits = records);
    }

    /// How many audit records one page holds (default 50).
    pub fn set_audit_page_size(&self, size: usize) {
        self.shared.write(|s| s.audit_page_size = size.max(1));
    }

    /// What the audit list does with `$filter` (default: honoured).
    pub fn set_audit_filter(&self, filter: AuditFilter) {
        self.shared.write(|s| s.audit_filter = filter);
    }

    /// Makes `@odata.nextLink` point at `base` (scheme and host) instead of this stand-in.
    pub fn set_next_link_base(&self, base: &str) {
        self.shared
            .write(|s| s.next_link_base = Some(base.to_owned()));
    }

    /// Adds a managed device, with its Entra device object (enabled).
    pub fn add_managed_device(&self, device: ManagedDevice) {
        self.shared.write(|s| s.managed_devices.push(device));
    }

    /// The managed devices as they are now (`account_enabled` shows containment).
    pub fn managed_devices(&self) -> Vec<ManagedDevice> {
        self.shared.read(|s| s.managed_devices.clone())
    }

    /// The next audit listing requests get these faults in order.
    pub fn fail_next_listing(&self, faults: Vec<Fault>) {
        self.shared
            .write(|s| s.queue_faults("intune:listing", faults));
    }

    /// The next requests about the Entra device `device_id` (its PATCH) get these faults.
    pub fn fail_next_device(&self, device_id: &str, faults: Vec<Fault>) {
        self.shared
            .write(|s| s.queue_faults(&format!("device:{device_id}"), faults));
    }

    /// Every token issued so far is now expired: Graph answers 401 to each.
    pub fn expire_all_tokens(&self) {
        self.shared.write(|s| s.expire_all_tokens());
    }

    /// Stops accepting connections and waits (a few seconds at most) for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM: for programs serving until told to stop.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn invalid_input(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}
