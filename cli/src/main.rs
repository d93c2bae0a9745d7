fn main() {
    eprintln!("contact-import: no commands yet");
    std::process::exit(2);
}
