# shellcheck shell=bash
# Sourced by ./build and ./dmasim: finds a JDK 25+, bootstraps the pinned Maven into .tools/.
# No registry host is named here: Maven is fetched by the machine's own `mvn` from its configured repository.

DMASIM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MAVEN_VERSION=3.9.16
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.11.0

java_major() { # $1 = JDK home; prints the feature version or nothing
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -1
}

find_jdk() {
  local c v
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* \
           "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home \
           "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$c" ] && [ -d "$c" ] || continue
    v=$(java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
  done
  return 1
}

if ! DMASIM_JDK=$(find_jdk); then
  echo "dmasim needs a JDK 25 or newer: install one (for example Temurin 25) or point JAVA_HOME at it." >&2
  exit 1
fi
export JAVA_HOME="$DMASIM_JDK"
export PATH="$JAVA_HOME/bin:$PATH"

jvm_flags() { # $1 = base|test|run
  sed -n "s/^jvm\.flags\.$1=//p" "$DMASIM_ROOT/jvm.properties"
}

maven() { # runs the pinned Maven, bootstrapping it on first use
  local mvn="$DMASIM_ROOT/.tools/apache-maven-$MAVEN_VERSION/bin/mvn"
  if [ ! -x "$mvn" ]; then
    if ! command -v mvn >/dev/null 2>&1; then
      echo "dmasim bootstraps Maven $MAVEN_VERSION with an installed Maven: install Maven (3.6.3 or newer) first." >&2
      exit 1
    fi
    echo "bootstrapping Maven $MAVEN_VERSION into .tools/ ..." >&2
    local log
    if ! log=$(MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow ${MAVEN_OPTS:-}" mvn -B -q -ntp \
        "$DEP_PLUGIN:unpack" -Dartifact="org.apache.maven:apache-maven:$MAVEN_VERSION:tar.gz:bin" \
        -DoutputDirectory="$DMASIM_ROOT/.tools" -Dmdep.overWriteReleases=true 2>&1); then
      printf '%s\n' "$log" >&2
      echo "could not bootstrap Maven $MAVEN_VERSION (is the Maven repository reachable?)" >&2
      exit 1
    fi
  fi
  "$mvn" -B -ntp -Dstyle.color=never -f "$DMASIM_ROOT/pom.xml" "$@"
}
