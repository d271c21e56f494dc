#[agentstack::observe(name = "a", name = "b")]
fn tool() {}

fn main() {}
