#[agentstack::observe(capture_input = "no")]
fn tool(query: &str) -> usize {
    query.len()
}

fn main() {}
