// Remote access (issue 12): filled in by the remote-access work.
export default function SessionsPage() {
  return <p>Not built yet.</p>;
}
