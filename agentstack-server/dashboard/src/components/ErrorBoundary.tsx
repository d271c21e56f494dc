// A page that throws while rendering shows what broke and a way back, never a blank screen.

import { Component, type ErrorInfo, type ReactNode } from "react";
import { AlertTriangle } from "lucide-react";

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("the dashboard page failed to render", error, info.componentStack);
  }

  componentDidUpdate(previous: { resetKey?: string }) {
    // Navigating elsewhere gives the next page a fresh start.
    if (previous.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="m-4 rounded-lg border border-red-500/40 bg-red-500/5 p-4" role="alert" data-testid="render-error">
        <div className="flex items-center gap-2 font-medium text-red-700 dark:text-red-400">
          <AlertTriangle className="size-4" /> This page failed to render
        </div>
        <pre className="mt-2 whitespace-pre-wrap break-words font-mono text-xs">{this.state.error.message}</pre>
        <p className="mt-2 text-sm text-muted-foreground">
          Reload the page; if it happens again, it is a bug of the dashboard: please report it with the URL and this message.
        </p>
      </div>
    );
  }
}
