use std::process::ExitCode;
use std::sync::Arc;

use libris_server::config::{AdminAccount, DatabaseArgs, UsersCommand};
use libris_server::startup::{create_admin, open_store, run_workers};
use libris_server::workers::Wake;
use libris_server::{deliveries, telemetry, Application, Cli, Command, Config};
use libris_store::DieselStore;

#[actix_web::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::try_parse_checked_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
    telemetry::init(cli.log_format);
    telemetry::log_panics();
    let creates_database = matches!(
        cli.command,
        None | Some(Command::Serve(_) | Command::Migrate)
    );
    if !creates_database {
        if let Some(code) = refuse_missing_database(&cli.database) {
            return Ok(code);
        }
    }
    match &cli.command {
        None | Some(Command::Serve(_)) => {
            let application = Application::build(Config::from_cli(&cli)).await?;
            application.run_until_stopped().await?;
        }
        Some(Command::Migrate) => {
            let url = cli.database.database_url.clone();
            let applied = tokio::task::spawn_blocking(move || DieselStore::migrate(&url)).await??;
            println!("{} migration(s) applied", applied.len());
        }
        Some(Command::Worker(settings)) => run_workers(&cli.database, settings).await?,
        Some(Command::Users(UsersCommand::Create {
            username,
            password,
            email,
        })) => {
            let store =
                open_store(&cli.database.database_url, 1, &Arc::new(Wake::default())).await?;
            let admin = AdminAccount {
                username: username.clone(),
                password: password.clone(),
                email: email.clone(),
            };
            let created =
                tokio::task::spawn_blocking(move || create_admin(&store, admin)).await??;
            if created {
                println!("admin {username} created");
            } else {
                println!("user {username} already exists; nothing changed");
            }
        }
        Some(Command::Deliveries(command)) => return deliveries::run(&cli.database, command).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// Commands that operate on a database need one that exists: opening a
/// missing SQLite file would create an empty database and report on it as
/// if it were the operator's. Exit status 2, as for any usage error.
fn refuse_missing_database(database: &DatabaseArgs) -> Option<ExitCode> {
    let path = database.database_url.missing_sqlite_file()?;
    eprintln!(
        "error: no database at {path} (from DATABASE_URL or --database-url); \
         `libris migrate` or `libris serve` creates one"
    );
    Some(ExitCode::from(2))
}
