#[agentstack::observe(kind = robot)]
fn tool() {}

fn main() {}
