//! The `cloe` binary: the command line (see `cloe --help`).

fn main() -> std::process::ExitCode {
    cloe::allocator::keep_buffers();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    cloe::cli::main()
}
