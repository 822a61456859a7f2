// Remote access (issue 12): filled in by the remote-access work.
export default function FilesPage() {
  return <p>Not built yet.</p>;
}
