# syntax=docker/dockerfile:1
#
# One image for both daemons: `ferry control run` (the default command) and `ferry agent run`.
#   docker build -t ferry .
#   docker run --init --hostname ferry.example.org -p 7750:7750 -v ferry-data:/var/lib/ferry ferry
# See config/README.md ("Running in a container") for the agent and for mounting a config file.

ARG NODE_VERSION=20

# ---- build: install everything, compile TypeScript and native modules, drop dev deps ----
FROM node:${NODE_VERSION}-bookworm AS build
# better-sqlite3 falls back to compiling from source when no prebuilt binary matches. The full
# bookworm image already has these; naming them keeps the build working if the base changes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Only what the build reads; .dockerignore keeps host node_modules/dist out of the context.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY config ./config
# native/: the C addon of descriptor-relative file calls; `npm ci` builds it (the package's
# install script) with the g++/make/python3 above; native/build stays out of the context.
COPY native ./native
# `npm ci` installs exactly package-lock.json, builds native/ (install script) and runs the
# `prepare` script (tsc build to dist/).
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
RUN npm prune --omit=dev --no-audit --no-fund \
 && node bin/ferry.cjs --version \
 && test -f native/build/Release/ferry_native.node

# ---- runtime: Node, the built code and production dependencies, nothing else ----
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
# A fixed uid/gid so bind-mounted data directories can be chowned ahead of time.
RUN groupadd --system --gid 10001 ferry \
 && useradd --system --no-log-init --uid 10001 --gid ferry --home-dir /var/lib/ferry --shell /usr/sbin/nologin ferry \
 && install -d -o ferry -g ferry -m 0700 /var/lib/ferry /var/lib/ferry/control /var/lib/ferry/agent \
 && install -d -m 0755 /etc/ferry
WORKDIR /app
# Code stays owned by root: the service user can run it but not change it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/config ./config
COPY --from=build /app/native ./native
RUN ln -s /app/bin/ferry.cjs /usr/local/bin/ferry
USER ferry
# Control keeps its CA, certificates and database in /var/lib/ferry/control; an agent keeps its
# credentials, agent.json and state in /var/lib/ferry/agent. Mount a volume to keep them.
VOLUME ["/var/lib/ferry"]
# 7750: control's HTTPS API and agent link. 50000-51000: agent data connections
# (dataPortRange in agent.json); publish them only for agent containers that peers dial.
EXPOSE 7750 50000-51000
# Node as PID 1 does not reap orphans; run with `docker run --init`. Ferry handles SIGTERM
# itself (clean shutdown, exit 0).
# No HEALTHCHECK: the same image runs agents, which serve no port to probe. For control, add
#   --health-cmd 'node -e "require(\"https\").get({host:\"127.0.0.1\",port:7750,path:\"/ferry/v1/ca.pem\",ca:require(\"fs\").readFileSync(\"/var/lib/ferry/control/pki/ca.crt\")},r=>process.exit(r.statusCode===200?0:1)).on(\"error\",()=>process.exit(1))"'
ENTRYPOINT ["node", "/app/bin/ferry.cjs"]
CMD ["control", "run", "--data-dir", "/var/lib/ferry/control", "--listen", "0.0.0.0:7750"]
