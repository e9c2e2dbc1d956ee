//! `elman train`: flags, and the run that wires data, model and trainer together.

use clap::Args;

#[derive(Args, Debug)]
pub struct TrainArgs {}

pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("train is being built")
}
