fn main() -> std::process::ExitCode {
    ragway_gateway::cli::main()
}
