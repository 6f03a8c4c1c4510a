//! Provisioning subcommands of the server binary: accounts, applications and users.
//!
//! [`ProvisionCmd`] is a clap subcommand enum meant to be flattened into the binary's own
//! subcommands (`#[command(flatten)]`), giving `vox-messenger-server account add acc`,
//! `… user add user1@app.acc --password-stdin`, and so on. [`run`] executes one command against a
//! [`Store`] and returns the text to print: a table for lists (`--json` prints JSON for scripts),
//! one line for a change.

use std::io::BufRead;

use clap::{Args, Subcommand};
use serde::Serialize;
use vox_protocol::auth::parse_login_name;

use crate::store::sqlite::validate_user_ref;
use crate::store::{NewUser, Store, User, UserRef};

/// Provisioning commands.
#[derive(Debug, Clone, Subcommand)]
pub enum ProvisionCmd {
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// Manage applications of an account.
    App {
        #[command(subcommand)]
        cmd: AppCmd,
    },
    /// Manage users (`user@app.account`).
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AccountCmd {
    /// Create an account.
    Add {
        /// Account name: 1 to 64 characters of A-Z a-z 0-9 -.
        name: String,
        /// Create it as a child of this (existing) account.
        #[arg(long)]
        parent: Option<String>,
    },
    /// List accounts.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AppCmd {
    /// Create an application in an account.
    Add {
        /// Application name: 1 to 64 characters of A-Z a-z 0-9 -.
        name: String,
        /// The account the application belongs to.
        #[arg(long)]
        account: String,
    },
    /// List applications.
    List {
        /// Only the applications of this account.
        #[arg(long)]
        account: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCmd {
    /// Create a user.
    Add {
        /// `user@app.account` (a trailing `.voximplant.com` is accepted).
        user: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Name shown to other users (default: the short user name).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users, deleted ones included.
    List {
        /// Only users of applications with this name.
        #[arg(long)]
        app: Option<String>,
        /// Only users of this account.
        #[arg(long)]
        account: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Mark a user deleted and revoke its tokens (its IM id stays reserved).
    Delete {
        /// `user@app.account`
        user: String,
    },
    /// Change a user's password (revokes its tokens and one-time keys).
    SetPassword {
        /// `user@app.account`
        user: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

/// Where the password comes from: exactly one of the two flags.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct PasswordArgs {
    /// The password (visible in the process list: prefer --password-stdin).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordArgs {
    async fn resolve(self) -> Result<String, String> {
        if let Some(password) = self.password {
            return Ok(password);
        }
        tokio::task::spawn_blocking(|| read_password_line(&mut std::io::stdin().lock()))
            .await
            .map_err(|e| format!("reading standard input failed: {e}"))?
    }
}

/// The first line of `input`, without its line ending.
fn read_password_line(input: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password.to_owned())
}

/// The domain of the full login form, `user@app.account.voximplant.com`.
const LOGIN_DOMAIN: &str = "voximplant.com";

/// Parse `user@app.account` (or the full login form `user@app.account.voximplant.com`) and
/// validate its three names.
pub fn parse_user_ref(s: &str) -> Result<UserRef, String> {
    let login = parse_login_name(s, LOGIN_DOMAIN)
        .map_err(|e| format!("{s:?} is not of the form user@app.account: {e}"))?;
    let name = UserRef {
        user: login.user,
        app: login.app,
        account: login.account,
    };
    validate_user_ref(&name).map_err(|e| e.to_string())?;
    Ok(name)
}

/// Execute one provisioning command; returns the text to print (no trailing newline).
pub async fn run(cmd: ProvisionCmd, store: &dyn Store) -> Result<String, String> {
    match cmd {
        ProvisionCmd::Account { cmd } => account(cmd, store).await,
        ProvisionCmd::App { cmd } => app(cmd, store).await,
        ProvisionCmd::User { cmd } => user(cmd, store).await,
    }
    .map_err(|e| e.to_string())
}

/// Store errors and plain messages (`String`) both convert with `?`.
type CliResult = Result<String, Box<dyn std::error::Error + Send + Sync>>;

async fn account(cmd: AccountCmd, store: &dyn Store) -> CliResult {
    match cmd {
        AccountCmd::Add { name, parent } => {
            let account = store.create_account(&name, parent.as_deref()).await?;
            Ok(match &account.parent {
                Some(parent) => format!(
                    "created account {} (id {}, child of {parent})",
                    account.name, account.id
                ),
                None => format!("created account {} (id {})", account.name, account.id),
            })
        }
        AccountCmd::List { json } => {
            let accounts = store.list_accounts().await?;
            if json {
                return to_json(&accounts);
            }
            let rows = accounts
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.name.clone(),
                        a.parent.clone().unwrap_or_default(),
                        utc_time(a.created_at),
                    ]
                })
                .collect();
            Ok(table(&["ID", "NAME", "PARENT", "CREATED (UTC)"], rows))
        }
    }
}

async fn app(cmd: AppCmd, store: &dyn Store) -> CliResult {
    match cmd {
        AppCmd::Add { name, account } => {
            let app = store.create_app(&account, &name).await?;
            Ok(format!(
                "created app {}.{} (id {})",
                app.name, app.account, app.id
            ))
        }
        AppCmd::List { account, json } => {
            let apps = store.list_apps(account.as_deref()).await?;
            if json {
                return to_json(&apps);
            }
            let rows = apps
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.name.clone(),
                        a.account.clone(),
                        utc_time(a.created_at),
                    ]
                })
                .collect();
            Ok(table(&["ID", "NAME", "ACCOUNT", "CREATED (UTC)"], rows))
        }
    }
}

async fn user(cmd: UserCmd, store: &dyn Store) -> CliResult {
    match cmd {
        UserCmd::Add {
            user,
            password,
            display_name,
        } => {
            let name = parse_user_ref(&user)?;
            let password = password.resolve().await?;
            let display_name = display_name.unwrap_or_else(|| name.user.clone());
            let created = store
                .create_user(NewUser {
                    name,
                    display_name,
                    password,
                })
                .await?;
            Ok(format!(
                "created user {} (id {})",
                created.name.im_name(),
                created.id
            ))
        }
        UserCmd::List { app, account, json } => {
            let users = store.list_users(app.as_deref(), account.as_deref()).await?;
            if json {
                return to_json(&users);
            }
            Ok(users_table(&users))
        }
        UserCmd::Delete { user } => {
            let name = parse_user_ref(&user)?;
            store.delete_user(&name).await?;
            Ok(format!("deleted user {}", name.im_name()))
        }
        UserCmd::SetPassword { user, password } => {
            let name = parse_user_ref(&user)?;
            let password = password.resolve().await?;
            store.set_password(&name, &password).await?;
            Ok(format!(
                "changed the password of {} (its tokens were revoked)",
                name.im_name()
            ))
        }
    }
}

fn users_table(users: &[User]) -> String {
    let rows = users
        .iter()
        .map(|u| {
            vec![
                u.id.to_string(),
                u.name.im_name(),
                u.display_name.clone(),
                if u.deleted { "yes" } else { "" }.to_owned(),
                utc_time(u.created_at),
            ]
        })
        .collect();
    table(
        &["ID", "USER", "DISPLAY NAME", "DELETED", "CREATED (UTC)"],
        rows,
    )
}

fn to_json<T: Serialize>(value: &T) -> CliResult {
    Ok(serde_json::to_string_pretty(value)?)
}

/// Left-aligned columns separated by two spaces; trailing spaces trimmed.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut lines = Vec::with_capacity(rows.len() + 1);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(cell);
            let pad = width - cell.chars().count() + 2;
            line.extend(std::iter::repeat_n(' ', pad));
        }
        lines.push(line.trim_end().to_owned());
    }
    lines.join("\n")
}

/// UNIX seconds as `YYYY-MM-DD HH:MM:SS` (UTC), without a date library.
fn utc_time(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ProvisionCmd,
    }

    fn parse(args: &[&str]) -> ProvisionCmd {
        Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
            .unwrap()
            .cmd
    }

    #[test]
    fn parses_user_refs() {
        let expect = UserRef {
            user: "user1".into(),
            app: "app".into(),
            account: "acc".into(),
        };
        assert_eq!(parse_user_ref("user1@app.acc").unwrap(), expect);
        assert_eq!(
            parse_user_ref("user1@app.acc.voximplant.com").unwrap(),
            expect
        );
        assert_eq!(
            parse_user_ref("user1@app.acc.VOXIMPLANT.COM").unwrap(),
            expect
        );
        for bad in [
            "user1",
            "user1@app",
            "@app.acc",
            "user1@.acc",
            "user1@app.",
            "user1@app.acc.extra",
            "us er@app.acc",
            "a@b@app.acc",
            "user1@app.voximplant.com.x",
        ] {
            assert!(parse_user_ref(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn reads_the_first_line_of_stdin() {
        let mut input = "s3cret pass\r\nignored\n".as_bytes();
        assert_eq!(read_password_line(&mut input).unwrap(), "s3cret pass");
        assert!(read_password_line(&mut "\n".as_bytes()).is_err());
        assert!(read_password_line(&mut "".as_bytes()).is_err());
    }

    #[test]
    fn password_flags_are_exclusive_and_required() {
        for args in [
            &["user", "add", "u@a.b"][..],
            &[
                "user",
                "add",
                "u@a.b",
                "--password",
                "x",
                "--password-stdin",
            ][..],
        ] {
            let argv = std::iter::once("server").chain(args.iter().copied());
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_795_633_429), "2026-11-25 19:03:49");
    }

    #[tokio::test]
    async fn provisions_end_to_end() {
        let store = SqliteStore::open_in_memory().unwrap();
        let run = |args: &[&str]| run(parse(args), &store);
        assert_eq!(
            run(&["account", "add", "acc"]).await.unwrap(),
            "created account acc (id 1)"
        );
        assert_eq!(
            run(&["account", "add", "kid", "--parent", "acc"])
                .await
                .unwrap(),
            "created account kid (id 2, child of acc)"
        );
        assert_eq!(
            run(&["app", "add", "app", "--account", "acc"])
                .await
                .unwrap(),
            "created app app.acc (id 1)"
        );
        assert_eq!(
            run(&["user", "add", "user1@app.acc", "--password", "secret"])
                .await
                .unwrap(),
            "created user user1@app.acc (id 1001)"
        );
        run(&[
            "user",
            "add",
            "user2@app.acc.voximplant.com",
            "--password",
            "pw",
            "--display-name",
            "User Two",
        ])
        .await
        .unwrap();
        let dup = run(&["user", "add", "user1@app.acc", "--password", "x"]).await;
        assert_eq!(dup.unwrap_err(), "user 'user1@app.acc' already exists");
        let missing = run(&["app", "add", "x", "--account", "nope"]).await;
        assert_eq!(missing.unwrap_err(), "account 'nope' not found");

        let accounts = run(&["account", "list"]).await.unwrap();
        let lines: Vec<&str> = accounts.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID  NAME  PARENT  CREATED (UTC)"));
        assert!(lines[2].starts_with("2   kid   acc     "));

        let users = run(&["user", "list", "--account", "acc"]).await.unwrap();
        assert!(users.contains("user1@app.acc  user1"), "{users}");
        assert!(users.contains("user2@app.acc  User Two"), "{users}");

        run(&["user", "set-password", "user1@app.acc", "--password", "new"])
            .await
            .unwrap();
        assert_eq!(
            run(&["user", "delete", "user1@app.acc"]).await.unwrap(),
            "deleted user user1@app.acc"
        );
        let json = run(&["user", "list", "--app", "app", "--json"])
            .await
            .unwrap();
        let users: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(users[0]["id"], 1001);
        assert_eq!(users[0]["deleted"], true);
        assert_eq!(users[1]["display_name"], "User Two");
        assert!(!json.contains("digest"), "{json}");

        let apps: serde_json::Value =
            serde_json::from_str(&run(&["app", "list", "--json"]).await.unwrap()).unwrap();
        assert_eq!(apps[0]["account"], "acc");
    }
}
