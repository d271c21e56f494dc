//! `#[observe]`: turns a function into a traced step of an agent run.
//!
//! The attribute wraps the function's body: it starts a span named after the function, captures
//! the arguments as JSON, runs the body with the span current (across `.await` for async
//! functions), records the return value or the `Err`, and ends the span. See the `agentstack`
//! crate for the options and what is recorded.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitBool, LitStr, Pat, ReturnType, Type};

/// Traces a function as one span of an agent run.
///
/// ```ignore
/// #[observe]                                   // span named `plan`, no kind
/// fn plan(goal: &str) -> Vec<String> { … }
///
/// #[observe(kind = tool, name = "web.search", skip(client))]
/// async fn search(client: &Client, query: String) -> Result<Vec<Hit>, SearchError> { … }
///
/// #[observe(kind = llm, capture_output = false)]
/// async fn complete(&self, prompt: &str) -> String { … }
/// ```
///
/// Options:
/// - `name = "…"`: the span name (default: the function's name);
/// - `kind = agent | tool | llm | chain | retriever | embedding | guardrail`;
/// - `skip(a, b)`: arguments not to capture (`self` is never captured);
/// - `capture_input = false`, `capture_output = false`.
///
/// Arguments and the return value are captured as JSON through `Serialize`, else through
/// `Debug`, else as their type name. A returned `Err` marks the span as an error with the
/// error's message; a panic marks it as an error and keeps unwinding.
#[proc_macro_attribute]
pub fn observe(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// The options of one `#[observe(...)]`.
struct Options {
    name: Option<LitStr>,
    kind: Option<Ident>,
    skip: Vec<Ident>,
    capture_input: bool,
    capture_output: bool,
}

const KINDS: [(&str, &str); 7] = [
    ("agent", "Agent"),
    ("tool", "Tool"),
    ("llm", "Llm"),
    ("chain", "Chain"),
    ("retriever", "Retriever"),
    ("embedding", "Embedding"),
    ("guardrail", "Guardrail"),
];

fn parse_options(args: TokenStream2) -> syn::Result<Options> {
    let mut options = Options {
        name: None,
        kind: None,
        skip: Vec::new(),
        capture_input: true,
        capture_output: true,
    };
    let mut seen: Vec<String> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        if seen.contains(&key) {
            return Err(meta.error(format!("`{key}` is given twice")));
        }
        seen.push(key.clone());
        match key.as_str() {
            "name" => {
                options.name = Some(meta.value()?.parse()?);
            }
            "kind" => {
                let value = meta.value()?;
                let kind: Ident = if value.peek(LitStr) {
                    let text: LitStr = value.parse()?;
                    Ident::new(&text.value(), text.span())
                } else {
                    value.parse()?
                };
                if !KINDS.iter().any(|(name, _)| kind == name) {
                    return Err(syn::Error::new(
                        kind.span(),
                        format!(
                            "unknown span kind `{kind}`; expected one of: {}",
                            KINDS.map(|(name, _)| name).join(", ")
                        ),
                    ));
                }
                options.kind = Some(kind);
            }
            "skip" => {
                meta.parse_nested_meta(|inner| {
                    let ident = inner
                        .path
                        .get_ident()
                        .cloned()
                        .ok_or_else(|| inner.error("expected an argument name"))?;
                    options.skip.push(ident);
                    Ok(())
                })?;
            }
            "capture_input" => {
                options.capture_input = meta.value()?.parse::<LitBool>()?.value;
            }
            "capture_output" => {
                options.capture_output = meta.value()?.parse::<LitBool>()?.value;
            }
            _ => {
                return Err(meta.error(
                    "unknown option; expected one of: name = \"…\", kind = …, skip(…), \
                     capture_input = false, capture_output = false",
                ));
            }
        }
        Ok(())
    });
    parser.parse2(args)?;
    Ok(options)
}

/// The identifiers of arguments that can be captured: plain `name: Type` patterns.
fn argument_idents(function: &ItemFn) -> Vec<Ident> {
    function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => Some(pat.ident.clone()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Whether the written return type is `Result<…>` (any path ending in `Result`).
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Result"),
            _ => false,
        },
        ReturnType::Default => false,
    }
}

fn returns_unit(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()),
    }
}

fn expand(args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let options = parse_options(args)?;
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let what = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(syn::Item::Struct(s)) => s.struct_token.span,
                Ok(syn::Item::Enum(e)) => e.enum_token.span,
                Ok(other) => other.span(),
                Err(_) => item
                    .clone()
                    .into_iter()
                    .next()
                    .map_or_else(Span::call_site, |t| t.span()),
            };
            return Err(syn::Error::new(
                what,
                "#[observe] can only be used on functions and methods with a body",
            ));
        }
    };
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "#[observe] cannot be used on a `const fn`",
        ));
    }

    let arguments = argument_idents(&function);
    for skipped in &options.skip {
        if !arguments.contains(skipped) {
            return Err(syn::Error::new(
                skipped.span(),
                format!(
                    "`skip({skipped})` names no argument of `{}`",
                    function.sig.ident
                ),
            ));
        }
    }
    let captured: Vec<&Ident> = arguments
        .iter()
        .filter(|a| !options.skip.contains(a))
        .collect();
    let captured_names: Vec<String> = captured
        .iter()
        .map(|a| a.to_string().trim_start_matches("r#").to_string())
        .collect();

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let fn_name = sig.ident.to_string();
    let span_name = options
        .name
        .as_ref()
        .map_or_else(|| fn_name.clone(), LitStr::value);
    let kind = match &options.kind {
        Some(kind) => {
            let variant = KINDS
                .iter()
                .find(|(name, _)| kind == name)
                .map(|(_, v)| *v)
                .unwrap_or("Chain");
            let variant = Ident::new(variant, kind.span());
            quote!(::core::option::Option::Some(::agentstack::__private::SpanKind::#variant))
        }
        None => quote!(::core::option::Option::None),
    };
    let capture_input = options.capture_input;
    let capture_output = options.capture_output;

    // A `return` of the declared type as the first statement fixes the type of the wrapped
    // body, so that `?` and `.into()` infer as they would in the original function.
    let fake_return = match &sig.output {
        ReturnType::Type(_, ty) if !matches!(&**ty, Type::ImplTrait(_)) => quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::let_unit_value, clippy::needless_return)]
            if false {
                let __agentstack_fake_return: #ty = loop {};
                return __agentstack_fake_return;
            }
        },
        _ => quote!(),
    };
    let body = quote!({ #fake_return #block });

    let run_body = if sig.asyncness.is_some() {
        quote! {
            ::agentstack::__private::FutureExt::with_context(
                async move #body,
                __agentstack_span.context(),
            ).await
        }
    } else {
        quote! {{
            let __agentstack_entered = __agentstack_span.enter();
            #[allow(clippy::redundant_closure_call)]
            (move || #body)()
        }}
    };

    let ret_span = sig.output.span();
    let record_result = if returns_result(&sig.output) {
        quote_spanned! {ret_span=>
            match &__agentstack_ret {
                ::core::result::Result::Ok(__agentstack_value) => {
                    if __agentstack_span.captures_output() {
                        #[allow(unused_imports)]
                        use ::agentstack::__private::{CaptureByDebug as _, CaptureBySerialize as _, CaptureByTypeName as _};
                        let mut __agentstack_output = __agentstack_span.output_capture();
                        (&&&::agentstack::__private::Capture(__agentstack_value)).capture_into(&mut __agentstack_output);
                        __agentstack_span.set_output(__agentstack_output);
                    }
                }
                ::core::result::Result::Err(__agentstack_error) => {
                    #[allow(unused_imports)]
                    use ::agentstack::__private::{ErrorByDebug as _, ErrorByDisplay as _, ErrorByTypeName as _};
                    let (__agentstack_message, __agentstack_type) =
                        (&&&::agentstack::__private::ErrorOf(__agentstack_error)).error_message();
                    __agentstack_span.set_error(__agentstack_message, __agentstack_type);
                }
            }
        }
    } else if returns_unit(&sig.output) {
        quote!()
    } else {
        quote_spanned! {ret_span=>
            {
                #[allow(unused_imports)]
                use ::agentstack::__private::{
                    CaptureByDebug as _, CaptureBySerialize as _, CaptureByTypeName as _,
                    ErrorOfDebug as _, ErrorOfDisplay as _, ErrorOfOther as _,
                };
                let __agentstack_probe = &&&::agentstack::__private::Capture(&__agentstack_ret);
                if let ::core::option::Option::Some((__agentstack_message, __agentstack_type)) = __agentstack_probe.err_message() {
                    __agentstack_span.set_error(__agentstack_message, __agentstack_type);
                } else if __agentstack_span.captures_output() {
                    let mut __agentstack_output = __agentstack_span.output_capture();
                    __agentstack_probe.capture_into(&mut __agentstack_output);
                    __agentstack_span.set_output(__agentstack_output);
                }
            }
        }
    };

    let meta_ident = format_ident!("__AGENTSTACK_META");
    let capture_args = if captured.is_empty() {
        quote!()
    } else {
        quote! {
            if __agentstack_span.captures_input() {
                #[allow(unused_imports)]
                use ::agentstack::__private::{CaptureByDebug as _, CaptureBySerialize as _, CaptureByTypeName as _};
                let mut __agentstack_input = __agentstack_span.input_capture();
                #( (&&&::agentstack::__private::Capture(&#captured)).capture_into(__agentstack_input.field(#captured_names)); )*
                __agentstack_span.set_input(__agentstack_input);
            }
        }
    };

    let expanded = quote! {
        #(#attrs)*
        #vis #sig {
            static #meta_ident: ::agentstack::__private::SpanMeta = ::agentstack::__private::SpanMeta {
                name: #span_name,
                kind: #kind,
                function: ::core::concat!(::core::module_path!(), "::", #fn_name),
                capture_input: #capture_input,
                capture_output: #capture_output,
            };
            let __agentstack_span = ::agentstack::__private::ObservedSpan::start(&#meta_ident);
            #capture_args
            let __agentstack_ret = #run_body;
            #record_result
            __agentstack_span.end();
            __agentstack_ret
        }
    };
    Ok(expanded.into_token_stream())
}
