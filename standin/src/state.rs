//! The stand-in's memory: configuration, issued tokens, fault queues and the traffic log.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Config;
use crate::assertion::Certificate;
use crate::directory::Directory;
use crate::intune::{AuditFilter, ManagedDevice};
use crate::records::{DirectoryUser, Fault, GraphCall, Revocation, TokenAttempt, TokenFault};

/// Shared between the handlers and the [`crate::Standin`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    state: Mutex<State>,
}

/// Everything that changes while serving. Locked briefly, never across an await.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) client_secrets: Vec<String>,
    pub(crate) certificate: Option<Certificate>,
    /// Access token → when Graph stops accepting it.
    pub(crate) tokens: HashMap<String, Instant>,
    pub(crate) token_requests: usize,
    pub(crate) tokens_issued: usize,
    pub(crate) token_attempts: Vec<TokenAttempt>,
    pub(crate) token_faults: VecDeque<TokenFault>,
    pub(crate) graph_calls: Vec<GraphCall>,
    pub(crate) revocations: Vec<Revocation>,
    /// Lower-cased decoded user (or `intune:listing`, `device:{id}`, `lookup:{ref}`,
    /// `groups:{ref}`) → faults still to serve.
    user_faults: HashMap<String, VecDeque<Fault>>,
    /// Intune's audit records, in the order added.
    pub(crate) audits: Vec<serde_json::Value>,
    pub(crate) audit_page_size: usize,
    pub(crate) audit_filter: AuditFilter,
    /// Where `@odata.nextLink` points (default: this stand-in).
    pub(crate) next_link_base: Option<String>,
    pub(crate) managed_devices: Vec<ManagedDevice>,
    /// Users and groups for lookups, membership checks and revocation.
    pub(crate) directory: Directory,
}

/// Whether Graph accepts a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenStatus {
    Valid,
    Expired,
    Unknown,
}

impl Shared {
    pub(crate) fn new(config: Config, base_url: String) -> Result<Shared, String> {
        let certificate = config
            .certificate_pem
            .as_deref()
            .map(Certificate::from_pem)
            .transpose()?;
        let state = State {
            client_secrets: config.client_secrets.clone(),
            certificate,
            audit_page_size: 50,
            ..State::default()
        };
        Ok(Shared {
            config,
            base_url,
            state: Mutex::new(state),
        })
    }

    pub(crate) fn tenant(&self) -> &str {
        &self.config.tenant
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler must not take the whole stand-in down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user `reference` (object id or UPN, case-insensitive) names, if it exists: an added
    /// user, or one synthesized when `known_users` is `None` or lists it (a listed UPN is also
    /// found by its synthesized id).
    pub(crate) fn resolve_user(&self, reference: &str) -> Option<DirectoryUser> {
        let known = self.config.known_users.as_deref();
        self.write(|s| s.directory.resolve(reference, known))
    }

    /// The users a `mail eq '{mail}'` filter matches.
    pub(crate) fn users_with_mail(&self, mail: &str) -> Vec<DirectoryUser> {
        let known = self.config.known_users.as_deref();
        self.write(|s| s.directory.with_mail(mail, known))
    }

    pub(crate) fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.config.log_requests {
            eprintln!("entra-graph-standin: {line}");
        }
    }
}

impl State {
    /// Counts a token POST and takes the next token fault, if any.
    pub(crate) fn begin_token_request(&mut self) -> Option<TokenFault> {
        self.token_requests += 1;
        self.token_faults.pop_front()
    }

    /// Remembers a fresh token and returns it.
    pub(crate) fn issue_token(&mut self, lifetime: Duration) -> String {
        let token = crate::stamp::opaque_token();
        // A lifetime too long for the clock (a test may ask for u64::MAX seconds) never ends.
        let now = Instant::now();
        let expires = now
            .checked_add(lifetime)
            .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
        self.tokens.insert(token.clone(), expires);
        self.tokens_issued += 1;
        token
    }

    pub(crate) fn token_status(&self, token: &str) -> TokenStatus {
        match self.tokens.get(token) {
            None => TokenStatus::Unknown,
            Some(expires) if Instant::now() < *expires => TokenStatus::Valid,
            Some(_) => TokenStatus::Expired,
        }
    }

    pub(crate) fn expire_all_tokens(&mut self) {
        let now = Instant::now();
        for expires in self.tokens.values_mut() {
            *expires = now;
        }
    }

    pub(crate) fn queue_faults(&mut self, user: &str, faults: Vec<Fault>) {
        self.user_faults
            .entry(user.to_lowercase())
            .or_default()
            .extend(faults);
    }

    pub(crate) fn clear_faults(&mut self, user: &str) {
        self.user_faults.remove(&user.to_lowercase());
    }

    pub(crate) fn next_fault(&mut self, user: &str) -> Option<Fault> {
        self.user_faults.get_mut(&user.to_lowercase())?.pop_front()
    }

    /// Logs a Graph call at arrival (status 0) so the log keeps arrival order; returns its index.
    pub(crate) fn begin_graph_call(&mut self, call: GraphCall) -> usize {
        self.graph_calls.push(call);
        self.graph_calls.len() - 1
    }

    pub(crate) fn finish_graph_call(&mut self, index: usize, status: u16) {
        if let Some(call) = self.graph_calls.get_mut(index) {
            call.status = status;
        }
    }
}
