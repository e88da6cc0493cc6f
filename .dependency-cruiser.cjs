/**
 * The layers of DESIGN.md "Layout", checked on every `npm test`: arrows point down only.
 * protocol/ and common/ import nothing of ours (common may use protocol's limits? no: nothing);
 * fs/ is a leaf over common/; agent/ and control/ never import each other; nothing imports cli/;
 * transfer/ knows nothing of agent/, control/ or cli/. Inside transfer/ the same rule: wire/ and
 * util/ sit at the bottom, chunks/ and batch/ never import each other or session/, and only
 * session/ (the top) puts them together. Type-only imports count: a layer that needs a type from
 * above has its boundary in the wrong place.
 */
const layer = (name, from, allowed) => ({
  name,
  severity: 'error',
  comment: `${from} may import only ${allowed.join(', ')} (DESIGN.md "Layout")`,
  from: { path: `^src/${from}/` },
  to: { path: '^src/', pathNot: allowed.map((a) => `^src/${a}(/|\\.ts$)`) },
});

module.exports = {
  forbidden: [
    layer('protocol-is-a-leaf', 'protocol', ['protocol']),
    layer('common-is-a-leaf', 'common', ['common']),
    layer('fs-is-a-leaf', 'fs', ['fs', 'common']),
    layer('pki-below-services', 'pki', ['pki', 'common', 'protocol']),
    layer('transfer-below-services', 'transfer', ['transfer', 'fs', 'pki', 'protocol', 'common']),
    layer('agent-never-imports-control', 'agent', ['agent', 'transfer', 'fs', 'pki', 'protocol', 'common']),
    layer('control-never-imports-agent', 'control', ['control', 'transfer', 'fs', 'pki', 'protocol', 'common']),
    layer('transfer-util-at-the-bottom', 'transfer/util', ['transfer/util', 'common', 'protocol']),
    layer('transfer-wire-below-sessions', 'transfer/wire', ['transfer/wire', 'transfer/util', 'transfer/errors', 'protocol', 'common']),
    layer('transfer-chunks-below-sessions', 'transfer/chunks', ['transfer/chunks', 'transfer/wire', 'transfer/util', 'transfer/checksum', 'transfer/workers', 'transfer/errors', 'transfer/tuning', 'fs', 'protocol', 'common']),
    layer('transfer-batch-below-sessions', 'transfer/batch', ['transfer/batch', 'transfer/wire', 'transfer/util', 'transfer/checksum', 'transfer/workers', 'transfer/errors', 'transfer/tuning', 'fs', 'protocol', 'common']),
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules that import each other at run time load in an order that depends on who came first.',
      from: { path: '^src/' },
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'], exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
