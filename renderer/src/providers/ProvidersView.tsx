export default function ProvidersView() {
  return <div className="page"><h1>Providers</h1></div>;
}
