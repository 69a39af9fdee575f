//! Command-line flags, generated from [`Settings`]: the same doc comments give
//! `--help`, and each help line ends with the setting's default.
//! Values stay text here so that a bad flag is reported with every other problem.

use std::fmt;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

use super::settings::Settings;

/// Explains the layers; for the binary's `after_help`.
pub const LAYERING_HELP: &str = "\
Settings come from, lowest first: defaults < TOML file (--config, SIDECAR_CONFIG) < environment < flags.
Every flag has an environment variable SIDECAR_<FLAG> (upper snake case, e.g. SIDECAR_CLIENT_ID) and a
TOML key <flag> (snake case, e.g. client_id). Lists take a repeated flag, a comma list (a space list too
where values have no spaces) or a TOML array. Prefer the *-file forms for secrets: flags show up in the
process list.";

/// `--config` and the settings given on the command line (by TOML key).
#[derive(Clone, Default)]
pub struct RunArgs {
    pub config: Option<PathBuf>,
    /// The settings given as flags, by TOML key, as text.
    pub flags: toml::Table,
}

impl fmt::Debug for RunArgs {
    /// Names only: a flag may hold a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunArgs")
            .field("config", &self.config)
            .field("flags", &self.flags.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Every setting's TOML key (the flag's id), in declaration order.
pub(crate) fn setting_names() -> Vec<String> {
    let cmd = Settings::augment_args(Command::new("settings"));
    cmd.get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

impl Args for RunArgs {
    fn augment_args(cmd: Command) -> Command {
        let names = setting_names();
        let config = Arg::new("config")
            .long("config")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help_heading("Config file")
            .help("TOML config file (keys are the flag names in snake case). [default: none]");
        Settings::augment_args(cmd.arg(config)).mut_args(|arg| {
            if !names.iter().any(|n| n == arg.get_id().as_str()) {
                return arg;
            }
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let arg = arg.required(false);
            if help.contains("[default: ") || help.contains("[required") {
                return arg;
            }
            let defaults: Vec<_> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy())
                .collect();
            let default = if defaults.is_empty() {
                "none".into()
            } else {
                defaults.join(", ")
            };
            arg.hide_default_value(true)
                .help(format!("{help} [default: {default}]"))
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for RunArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = toml::Table::new();
        for name in setting_names() {
            if matches.value_source(&name) != Some(ValueSource::CommandLine) {
                continue;
            }
            let raw = matches.get_raw(&name).into_iter().flatten();
            let mut values: Vec<toml::Value> = raw
                .map(|v| toml::Value::String(v.to_string_lossy().into_owned()))
                .collect();
            let value = match values.len() {
                1 => values.remove(0),
                _ => toml::Value::Array(values),
            };
            flags.insert(name, value);
        }
        let config = matches.get_one::<PathBuf>("config").cloned();
        Ok(Self { config, flags })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl RunArgs {
    /// The raw text of a flag given on the command line (lists: the last value).
    pub fn flag(&self, name: &str) -> Option<&str> {
        match self.flags.get(&name.replace('-', "_"))? {
            toml::Value::Array(items) => items.last().and_then(toml::Value::as_str),
            value => value.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn every_flag_reaches_its_setting() {
        let mut argv = vec!["sidecar".to_string()];
        for name in setting_names() {
            argv.push(format!("--{}", name.replace('_', "-")));
            argv.push(format!("v-{name}"));
        }
        argv.extend(["--listen", "second"].map(String::from));
        let cli = Cli::try_parse_from(argv).unwrap();
        assert_eq!(cli.run.flags.len(), setting_names().len());
        assert_eq!(cli.run.flag("session-ttl"), Some("v-session_ttl"));
        let listen = cli.run.flags["listen"].as_array().unwrap();
        assert_eq!(listen.len(), 2);
    }

    #[test]
    fn help_documents_every_flag_and_its_default() {
        for arg in Cli::command().get_arguments() {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(
                help.contains("[default: ") || help.contains("[required"),
                "{:?}: {help}",
                arg.get_long()
            );
        }
        let rendered = Cli::command().render_long_help().to_string();
        assert!(rendered.contains("--session-ttl <DURATION>"));
        assert!(rendered.contains("[default: 12h]"));
        assert!(rendered.contains("[default: [::]:4180, 0.0.0.0:4180]"));
    }

    #[test]
    fn debug_hides_secrets_given_as_flags() {
        let cli = Cli::try_parse_from([
            "s",
            "--client-secret",
            "hunter2",
            "--cookie-secret",
            "longsecret-longsecret-longsecret",
        ])
        .unwrap();
        let debug = format!("{:?}", cli.run);
        assert!(
            !debug.contains("hunter2") && !debug.contains("longsecret"),
            "{debug}"
        );
        assert!(cli.run.config.is_none());
    }
}
