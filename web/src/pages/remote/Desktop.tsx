// Remote access (issue 12): filled in by the remote-access work.
export default function DesktopPage() {
  return <p>Not built yet.</p>;
}
