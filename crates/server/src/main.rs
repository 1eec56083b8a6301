use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use libris_server::config::{AdminAccount, UsersCommand};
use libris_server::startup::{create_admin, open_store, run_workers};
use libris_server::workers::Wake;
use libris_server::{deliveries, telemetry, Application, Cli, Command, Config};
use libris_store::{DatabaseUrl, DieselStore};

#[actix_web::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    telemetry::log_panics();
    match &cli.command {
        None | Some(Command::Serve) => {
            let application = Application::build(Config::from_cli(&cli)).await?;
            application.run_until_stopped().await?;
        }
        Some(Command::Worker) => run_workers(Config::from_cli(&cli)).await?,
        Some(Command::Migrate) => {
            let url = DatabaseUrl::parse(&cli.database_url);
            let applied = tokio::task::spawn_blocking(move || DieselStore::migrate(&url)).await??;
            println!("{} migration(s) applied", applied.len());
        }
        Some(Command::Users(UsersCommand::Create {
            username,
            password,
            email,
        })) => {
            let store = open_store(&cli.database_url, 1, &Arc::new(Wake::default())).await?;
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
        Some(Command::Deliveries(command)) => {
            return deliveries::run(Config::from_cli(&cli), command).await
        }
    }
    Ok(ExitCode::SUCCESS)
}
