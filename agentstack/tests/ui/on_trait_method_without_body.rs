trait Tool {
    #[agentstack::observe]
    fn call(&self) -> String;
}

fn main() {}
