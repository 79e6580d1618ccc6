'use client';
import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { Button } from './button';

export interface ConfirmOptions {
  /** The question, as the dialog's title: "Delete user ana@example.com?" */
  title: string;
  /** What happens if the user confirms, in a sentence or two. */
  body?: ReactNode;
  /** The confirm button's label, a verb: "Delete user". Default "Confirm". */
  confirmLabel?: string;
  /** "danger" for what cannot be undone (red confirm button). */
  tone?: 'danger' | 'primary';
}

/**
 * The app's confirmation dialog, instead of the browser's confirm(): a modal with role="dialog", focus on
 * Cancel when it opens (so Enter does not destroy by accident), Tab kept inside, Escape or a click outside
 * cancels, focus returned to the button that opened it.
 */
export function ConfirmDialog({ open, options, onAnswer }: { open: boolean; options: ConfirmOptions; onAnswer: (yes: boolean) => void }) {
  const titleId = useId();
  const bodyId = useId();
  const panel = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const opener = document.activeElement as HTMLElement | null;
    cancel.current?.focus();
    return () => opener?.focus?.();
  }, [open]);

  if (!open) return null;
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onAnswer(false);
      return;
    }
    if (e.key !== 'Tab' || !panel.current) return;
    const focusable = [...panel.current.querySelectorAll<HTMLElement>('button:not([disabled])')];
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last?.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first?.focus();
    }
  };
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/40 p-4" onMouseDown={(e) => e.target === e.currentTarget && onAnswer(false)}>
      <div
        ref={panel}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={options.body ? bodyId : undefined}
        onKeyDown={onKeyDown}
        className="w-full max-w-md rounded-lg border border-slate-200 bg-white p-5 shadow-xl"
      >
        <h2 id={titleId} className="text-base font-semibold text-slate-900">
          {options.title}
        </h2>
        {options.body && (
          <div id={bodyId} className="mt-2 text-sm text-slate-600">
            {options.body}
          </div>
        )}
        <div className="mt-5 flex justify-end gap-2">
          <Button ref={cancel} variant="secondary" onClick={() => onAnswer(false)}>
            Cancel
          </Button>
          <Button variant={options.tone === 'danger' ? 'danger' : 'primary'} onClick={() => onAnswer(true)}>
            {options.confirmLabel ?? 'Confirm'}
          </Button>
        </div>
      </div>
    </div>
  );
}

/**
 * `const [dialog, confirm] = useConfirm();` render `{dialog}`, then `if (await confirm({...})) mutate()`:
 * the drop-in for `window.confirm(...) && mutate()`.
 */
export function useConfirm(): [ReactNode, (options: ConfirmOptions) => Promise<boolean>] {
  const [pending, setPending] = useState<{ options: ConfirmOptions; resolve: (yes: boolean) => void } | null>(null);
  const ask = useCallback((options: ConfirmOptions) => new Promise<boolean>((resolve) => setPending({ options, resolve })), []);
  const dialog = pending ? (
    <ConfirmDialog
      open
      options={pending.options}
      onAnswer={(yes) => {
        pending.resolve(yes);
        setPending(null);
      }}
    />
  ) : null;
  return [dialog, ask];
}
