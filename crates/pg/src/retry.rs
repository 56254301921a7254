//! Riding through a restart, a failover or a lost connection.
//!
//! A server that restarts takes every connection with it. A run does not
//! end there: it reconnects with exponential backoff ([`Retry`]) and asks
//! the ledger what was committed. A batch whose transaction was cut is
//! written again, and one whose commit landed before its answer was lost
//! is not, because its ledger row says so. Only when the server stays away
//! longer than [`Retry::reconnect_for`] does the run give up — and then,
//! as ever, nothing committed is lost and `Start::Resume` finishes it.
//!
//! A connection that is cut without a word (a partition, a dead load
//! balancer) would leave a call waiting forever: once a run has begun,
//! each of its control statements has [`Retry::statement_timeout`] to
//! answer (a lease renewal a third of the lease, if that is less) and
//! each batch's commit [`Retry::commit_timeout`], after which the
//! connection is taken for lost. (What comes before a run — registering a
//! campaign, checking the schema — is neither bounded nor retried: it
//! fails, and is run again.)

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use tokio_postgres::Client;

use crate::connect::{Connection, Connections};
use crate::error::{Error, ErrorKind};

/// How a run outlasts a server that goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// How long to keep reconnecting after the connection is lost, counted
    /// from the first failure; zero gives up at once.
    pub reconnect_for: Duration,
    /// How long a control statement of a run (registering, claiming,
    /// renewing, releasing, recording) may go unanswered before its
    /// connection is taken for lost; zero waits for ever.
    pub statement_timeout: Duration,
    /// How long a batch's commit (its COPY and ledger row) may take before
    /// its connection is taken for lost; zero waits for ever.
    pub commit_timeout: Duration,
}

impl Default for Retry {
    /// Keep reconnecting for 5 minutes; 30 s for a control statement,
    /// 10 minutes for a batch's commit.
    fn default() -> Retry {
        Retry {
            reconnect_for: Duration::from_secs(300),
            statement_timeout: Duration::from_secs(30),
            commit_timeout: Duration::from_secs(600),
        }
    }
}

/// The first pause between attempts; it doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);

impl Retry {
    /// Never reconnect: the first lost connection ends the run.
    pub fn never() -> Retry {
        Retry {
            reconnect_for: Duration::ZERO,
            ..Retry::default()
        }
    }

    /// Runs a control statement: `statement_timeout` to answer.
    pub(crate) async fn statement<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        within(self.statement_timeout, what, call).await
    }

    /// Runs a batch's commit: `commit_timeout` to answer.
    pub(crate) async fn commit<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        within(self.commit_timeout, what, call).await
    }

    /// A new round of attempts, starting now.
    pub(crate) fn backoff(&self) -> Backoff {
        let now = Instant::now();
        Backoff {
            // A limit beyond the clock's range is no limit.
            until: now
                .checked_add(self.reconnect_for)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400)),
            delay: FIRST_DELAY,
            limit: self.reconnect_for,
            attempts: 0,
        }
    }

    /// Opens a connection from `source`, named `name` in
    /// `pg_stat_activity.application_name` if given, trying again after
    /// transient failures (refused, starting up, unanswered) until
    /// `backoff` runs out.
    pub(crate) async fn open(
        &self,
        source: &Connections,
        name: Option<&str>,
        backoff: &mut Backoff,
    ) -> Result<Connection, Error> {
        loop {
            let opened = self.statement("connecting", source.open_named(name)).await;
            match opened {
                Ok(connection) => return Ok(connection),
                Err(e) if e.is_transient() => backoff.pause(e).await?,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A control connection that reconnects: each [`Control::call`] runs on
/// the connection it has, or on a new one when that was lost.
pub(crate) struct Control {
    source: Connections,
    retry: Retry,
    /// Set on each new connection (`pg_stat_activity.application_name`).
    name: Option<String>,
    connection: Option<Connection>,
}

impl Control {
    /// Opens the first connection, riding through a server that is not
    /// there yet as `retry` allows.
    pub(crate) async fn open(
        source: &Connections,
        retry: Retry,
        name: Option<&str>,
    ) -> Result<Control, Error> {
        let mut control = Control {
            source: source.clone(),
            retry,
            name: name.map(str::to_owned),
            connection: None,
        };
        control.connect(&mut retry.backoff()).await?;
        Ok(control)
    }

    /// The connection, for statements that run once and need no retry.
    pub(crate) async fn client(&mut self) -> Result<&Client, Error> {
        if self.connection.is_none() {
            self.connect(&mut self.retry.backoff()).await?;
        }
        Ok(self.connection.as_ref().expect("connected above").shared())
    }

    async fn connect(&mut self, backoff: &mut Backoff) -> Result<(), Error> {
        let name = self.name.as_deref();
        self.connection = Some(self.retry.open(&self.source, name, backoff).await?);
        Ok(())
    }

    /// Runs `call` (`what` names it in messages) with
    /// [`Retry::statement_timeout`] to answer; when the connection is lost
    /// or does not answer, reconnects and calls again, as [`Retry`]
    /// allows. So `call` must be safe to repeat.
    pub(crate) async fn call<T>(
        &mut self,
        what: &str,
        call: impl for<'c> Fn(&'c Client) -> Statement<'c, T>,
    ) -> Result<T, Error> {
        self.call_within(self.retry.statement_timeout, what, call)
            .await
    }

    /// [`Control::call`] with `limit` to answer in place of
    /// [`Retry::statement_timeout`].
    pub(crate) async fn call_within<T>(
        &mut self,
        limit: Duration,
        what: &str,
        call: impl for<'c> Fn(&'c Client) -> Statement<'c, T>,
    ) -> Result<T, Error> {
        let mut backoff: Option<Backoff> = None;
        loop {
            if self.connection.is_none() {
                let backoff = backoff.get_or_insert_with(|| self.retry.backoff());
                self.connect(backoff).await?;
            }
            let client = self.connection.as_ref().expect("connected above").shared();
            let failure = match within(limit, what, call(client)).await {
                Err(e) if e.is_transient() => e,
                result => return result,
            };
            if let Some(lost) = self.connection.take() {
                lost.abandon();
            }
            backoff
                .get_or_insert_with(|| self.retry.backoff())
                .pause(failure)
                .await?;
        }
    }

    /// Runs `call` once on the connection it has, if any, with
    /// [`Retry::statement_timeout`] to answer: for the last words of a run
    /// that gave up on the server.
    pub(crate) async fn call_once<T>(
        &mut self,
        what: &str,
        call: impl for<'c> Fn(&'c Client) -> Statement<'c, T>,
    ) -> Result<T, Error> {
        let Some(connection) = &self.connection else {
            return Err(Error::new(
                ErrorKind::Connection,
                format!("no connection for {what}"),
            ));
        };
        self.retry.statement(what, call(connection.shared())).await
    }

    /// Closes the connection (see [`Connection::close`]).
    pub(crate) async fn close(self) {
        if let Some(connection) = self.connection {
            connection.close().await;
        }
    }
}

/// A control statement's future, as [`Control::call`] takes it: boxed, so
/// that it may be sent between threads whatever the client's lifetime.
pub(crate) type Statement<'c, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'c>>;

/// Gives a closure the signature [`Control::call`] takes, for one kept in
/// a variable (a closure's lifetimes are only inferred this general when
/// it is passed straight to a function that asks for it).
pub(crate) fn statement<T, F>(call: F) -> F
where
    F: for<'c> Fn(&'c Client) -> Statement<'c, T>,
{
    call
}

/// Pauses between attempts, doubling from 100 ms to 5 s, until the time
/// [`Retry::reconnect_for`] allows is up.
#[derive(Debug)]
pub(crate) struct Backoff {
    until: Instant,
    delay: Duration,
    limit: Duration,
    /// Pauses so far.
    attempts: u32,
}

impl Backoff {
    /// Waits before the next attempt after `failure`; gives `failure` back
    /// when the time is up.
    /// The first pause of a round is a warning; the ones after it, which
    /// only say the server is still away, are debug events.
    pub(crate) async fn pause(&mut self, failure: Error) -> Result<(), Error> {
        let now = Instant::now();
        if now >= self.until {
            if self.attempts > 0 {
                tracing::warn!(attempts = self.attempts, error = %failure, "gave up retrying");
            }
            return Err(if self.limit.is_zero() {
                failure
            } else {
                failure.context(format!(
                    "gave up reconnecting after {}",
                    seconds(self.limit)
                ))
            });
        }
        let wait = self.delay.min(self.until - now);
        self.attempts += 1;
        metrics::counter!(domgen_engine::telemetry::RETRIES).increment(1);
        let (attempt, wait_seconds) = (self.attempts, wait.as_secs_f64());
        if attempt == 1 {
            tracing::warn!(error = %failure, attempt, wait_seconds, "retrying");
        } else {
            tracing::debug!(error = %failure, attempt, wait_seconds, "retrying");
        }
        tokio::time::sleep(wait).await;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        Ok(())
    }
}

/// `call`, or a transient [`Error`] when it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    what: &str,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    if limit.is_zero() {
        return call.await;
    }
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::Connection,
            format!(
                "PostgreSQL did not answer {what} within {}; the connection is taken for lost",
                seconds(limit)
            ),
        )
        .because(TimedOut)),
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The source of an [`Error`] for a call that went unanswered.
#[derive(Debug)]
pub(crate) struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no answer in time")
    }
}

impl std::error::Error for TimedOut {}

/// Whether a server's SQLSTATE says the statement may succeed on a new
/// connection or a moment later: the connection failed (class 08); the
/// server is out of a resource (53: connections, memory, disk, but a
/// configured limit such as `temp_file_limit`), shutting down, restarting
/// or starting up (57, but a dropped database, and a cancelled statement:
/// a server's `statement_timeout` cancels it again at every try); a
/// read-only standby answered after a failover (25006); the statement lost a race (40001, 40P01, 55P03); the server's
/// own I/O failed (58000, 58030); or a pooler mixed up prepared
/// statements (26000, 42P05). Everything else is about the statement, and
/// is the same at every try.
pub(crate) fn transient_state(code: &str) -> bool {
    let class = code.get(..2).unwrap_or(code);
    (matches!(class, "08" | "53" | "57") && !matches!(code, "57P04" | "57014" | "53400"))
        || matches!(
            code,
            "25006" | "40001" | "40P01" | "55P03" | "58000" | "58030" | "26000" | "42P05"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_of_a_restart_or_a_lost_race_are_transient_and_those_of_the_statement_are_not() {
        use tokio_postgres::error::SqlState;
        let transient = [
            SqlState::CONNECTION_FAILURE,
            SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::DISK_FULL,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::INVALID_SQL_STATEMENT_NAME,
        ];
        for code in transient {
            assert!(transient_state(code.code()), "{code:?}");
        }
        let the_statements = [
            SqlState::UNIQUE_VIOLATION,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::UNDEFINED_FUNCTION,
            SqlState::UNDEFINED_TABLE,
            SqlState::INVALID_PASSWORD,
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            SqlState::NOT_NULL_VIOLATION,
            SqlState::CHECK_VIOLATION,
            SqlState::STRING_DATA_RIGHT_TRUNCATION,
            SqlState::DATATYPE_MISMATCH,
            SqlState::RAISE_EXCEPTION,
            SqlState::INTERNAL_ERROR,
            SqlState::T_R_INTEGRITY_CONSTRAINT_VIOLATION,
            SqlState::DATABASE_DROPPED,
            SqlState::QUERY_CANCELED,
            SqlState::CONFIGURATION_LIMIT_EXCEEDED,
        ];
        for code in the_statements {
            assert!(!transient_state(code.code()), "{code:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_to_its_cap_and_gives_the_failure_back_when_time_is_up() {
        let retry = Retry {
            reconnect_for: Duration::from_secs(12),
            ..Retry::default()
        };
        let mut backoff = retry.backoff();
        let started = tokio::time::Instant::now();
        let mut pauses = 0;
        while backoff.pause(Error::database("lost")).await.is_ok() {
            pauses += 1;
        }
        // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 5 = 11.3 s, then the rest.
        assert_eq!(pauses, 8);
        assert!(started.elapsed() >= Duration::from_secs(12));
        let e = backoff.pause(Error::database("lost")).await.unwrap_err();
        assert_eq!(e.to_string(), "lost; gave up reconnecting after 12 s");
        let e = Retry::never()
            .backoff()
            .pause(Error::database("lost"))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "lost");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_call_is_a_transient_error_naming_what_and_how_long() {
        let retry = Retry {
            statement_timeout: Duration::from_millis(1500),
            ..Retry::default()
        };
        let e = retry
            .statement(
                "claiming a batch",
                std::future::pending::<Result<(), Error>>(),
            )
            .await
            .unwrap_err();
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "PostgreSQL did not answer claiming a batch within 1.5 s; the connection is taken for lost"
        );
    }
}
