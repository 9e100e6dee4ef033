"""Tempest's entry point for the edge-refarch plugin."""

import os

from oslo_config import cfg
from tempest import config
from tempest.test_discover import plugins

from edge_refarch.tempest_plugin import config as er_config


class EdgeRefarchTempestPlugin(plugins.TempestPlugin):
    def load_tests(self):
        base_path = os.path.split(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))))[0]
        test_dir = "edge_refarch/tempest_plugin/tests"
        full_test_dir = os.path.join(base_path, test_dir)
        return full_test_dir, base_path

    def register_opts(self, conf):
        config.register_opt_group(conf, config.service_available_group,
                                  [er_config.service_option])
        for opt in er_config.foreign_service_options:
            try:
                conf.register_opt(opt,
                                  group=config.service_available_group.name)
            except cfg.DuplicateOptError:
                pass    # its own plugin (heat, telemetry) registered it
        config.register_opt_group(conf, er_config.group, er_config.opts)
        config.register_opt_group(conf, er_config.feature_group,
                                  er_config.feature_opts)

    def get_opt_lists(self):
        return [(er_config.group.name, er_config.opts),
                (er_config.feature_group.name, er_config.feature_opts),
                ("service_available", [
                    er_config.service_option,
                    *er_config.foreign_service_options])]

    def get_service_clients(self):
        # Tempest 47 has every client these tests need (images with
        # import_params for glance-download, the image cache, identity v3);
        # the one thing it lacks, the fault injector, is edge-refarch's own.
        return []
