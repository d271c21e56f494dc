#[agentstack::observe(sample_rate = 0.5)]
fn tool() {}

fn main() {}
