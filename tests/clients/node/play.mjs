// The scenario runner both Node client scripts share (the contract is in tests/clients/scripts.py):
// play every scenario the spec names, observe a throw as {"error": {class, status, message}} so
// one broken call never hides the others, and print all observations as one JSON document.

export async function play(spec, scenarios) {
  const observations = {};
  for (const name of spec.scenarios) {
    const scenario = scenarios[name];
    if (!scenario) throw new Error(`unknown scenario ${name}`);
    try {
      observations[name] = await scenario();
    } catch (e) {
      observations[name] = {
        error: { class: e.constructor.name, status: e.statusCode ?? e.status ?? null, message: String(e.message) },
      };
    }
  }
  process.stdout.write(JSON.stringify(observations));
}
