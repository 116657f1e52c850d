fn main() {
    std::process::exit(edgekv::cli::main());
}
