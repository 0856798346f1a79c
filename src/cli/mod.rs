//! The `cloe` command line: clap subcommands that call the library, print results, and turn every
//! error into a message and exit code 2.

use crate::case::Profile;
use crate::device::{self, DeviceChoice};
use crate::error::{CloeError, Result};
use crate::inspect::inspect;
use crate::io::ReadOptions;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// CLoE Studio: read multimodal MRI with missing sequences.
#[derive(Debug, Parser)]
#[command(name = "cloe", version, about, long_about = None, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a case or a dataset: profile, modalities found and missing, per file shape, spacing,
    /// orientation, datatype and intensity percentiles, label values with voxel counts and volumes in ml,
    /// and any resampling done to put the modalities on one grid.
    Inspect {
        /// A case folder, a dataset folder, an MSD dataset (with dataset.json), one NIfTI file, or
        /// several NIfTI files of one case.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Force the profile instead of guessing it from the file names.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<Profile>,
        /// Accept NaN/Inf voxels, treating them as 0 (background).
        #[arg(long)]
        allow_nonfinite: bool,
    },
    /// List the GPU adapters of this machine and the device the network would run on.
    Devices {
        /// Device to select: auto (a hardware GPU if any, else the CPU), cpu or gpu. Default: CLOE_DEVICE, else auto.
        #[arg(long, value_enum)]
        device: Option<DeviceChoice>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_profile(s: &str) -> std::result::Result<Profile, String> {
    Profile::from_name(s).ok_or_else(|| format!("unknown profile {s:?}: use brats or prostate"))
}

/// Runs the command line; errors become a message on stderr and exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Inspect {
            paths,
            json,
            profile,
            allow_nonfinite,
        } => {
            let report = inspect(&paths, profile, ReadOptions { allow_nonfinite })?;
            if json {
                println!("{}", to_json(&report)?);
            } else {
                print!("{}", report.to_text());
            }
        }
        Command::Devices {
            device: choice,
            json,
        } => {
            let adapters = device::adapters();
            let chosen = device::select(choice)?;
            if json {
                let value = serde_json::json!({ "adapters": adapters, "selected": chosen.label });
                println!("{}", to_json(&value)?);
            } else {
                if adapters.is_empty() {
                    println!("no wgpu adapter");
                }
                for a in &adapters {
                    println!(
                        "adapter  {} ({}, {}, driver {})",
                        a.name, a.kind, a.backend, a.driver
                    );
                }
                println!("selected {}", chosen.label);
            }
        }
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| CloeError::Invalid(format!("cannot write JSON: {e}")))
}
