export default function ServerView() {
  return <div className="page"><h1>Server</h1></div>;
}
