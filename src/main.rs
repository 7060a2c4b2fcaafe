fn main() {
    std::process::exit(netcore::cli::main(std::env::args_os()));
}
