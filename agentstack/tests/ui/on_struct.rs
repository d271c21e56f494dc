#[agentstack::observe]
struct Agent {
    name: String,
}

fn main() {}
