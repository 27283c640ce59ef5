# Source: github.com/staticweb-io/static-deploy, dev/flake.nix, commit 0a157c493566172140d9ce52e5a17d8b78423244
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake inputs and flake-parts wrapper, devShells, and the user's own processes `test` and
# `wordpress1` (they install WordPress from the wordpress-flake and static-deploy inputs; `wordpress1`
# waited for memcached1 healthy and mysql1-configure completed). `php` was
# `pkgs.php.buildEnv { extensions = … imagick memcached; }`; the test package set has no buildEnv,
# so it is `pkgs.php` here. Everything else is as the user wrote it.
{ inputs, pkgs, lib, ... }:
with pkgs;
let
  dbName = "wordpress";
  dbPort = 3306;
  dbUserName = "wordpress";
  dbUserPass = "8BVMm2jqDE6iADNyfaVCxoCzr3eBY6Ep";
  serverPort = 8888;
  php = pkgs.php;
in
{
  # `process-compose.foo` will add a flake package output called "foo".
  # Therefore, this will add a default package that you can build using
  # `nix build` and run using `nix run`.
  process-compose."default" = { config, ... }: {
    imports = [ inputs.services-flake.processComposeModules.default ];
    services.memcached."memcached1" = {
      enable = true;
      startArgs = [ "--memory-limit=100M" ];
    };
    services.mysql."mysql1" = {
      enable = true;
      ensureUsers = [{
        name = dbUserName;
        password = dbUserPass;
        ensurePermissions = { "${dbName}.*" = "ALL PRIVILEGES"; };
      }];
      initialDatabases = [{ name = dbName; }];
      package = pkgs.mariadb;
      settings = {
        mysqld = {
          bind-address = "127.0.0.1";
          port = dbPort;
          tmpdir = "/tmp";
        };
      };
    };
    services.nginx."nginx1" = {
      enable = true;
      httpConfig = ''
        server {
          listen ${toString serverPort} default_server;

          server_name _;

          root ./data/wordpress1;

          index index.php index.html index.htm;

          location / {
              try_files $uri $uri/ =404;

              if (!-e $request_filename) {
                  rewrite ^(.+)$ /index.php?q=$1 last;
              }
          }

          location ~ \.php$ {
            fastcgi_split_path_info ^(.+\.php)(/.+)$;
            fastcgi_pass unix:${
              config.services.phpfpm."phpfpm1".dataDir
            }/phpfpm.sock;
            include ${pkgs.nginx}/conf/fastcgi.conf;
          }

          location ~ /\.ht {
            deny all;
          }
        }
      '';
      package = pkgs.nginx;
    };
    services.phpfpm."phpfpm1" = {
      enable = true;
      listen = "phpfpm.sock";
      extraConfig = {
        "catch_workers_output" = "yes";
        "pm" = "ondemand";
        "pm.max_children" = "5";
      };
      package = php;
      phpOptions = ''
        opcache.interned_strings_buffer = 16
        opcache.jit = 1255
        opcache.jit_buffer_size = 8M
      '';
    };
    settings.processes."nginx1".depends_on."phpfpm1".condition =
      "process_healthy";
    settings.processes."phpfpm1".readiness_probe = lib.mkForce {
      exec.command = "env -i ${pkgs.fcgi}/bin/cgi-fcgi -bind -connect ${
          config.services.phpfpm."phpfpm1".dataDir
        }/phpfpm.sock";
      initial_delay_seconds = 2;
      period_seconds = 10;
      timeout_seconds = 4;
      success_threshold = 1;
      failure_threshold = 5;
    };
  };
}
