#[agentstack::observe(skip(api_key))]
fn tool(query: &str) -> usize {
    query.len()
}

fn main() {}
