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
        try:
            conf.register_opt(er_config.heat_option,
                              group=config.service_available_group.name)
        except cfg.DuplicateOptError:
            pass    # heat-tempest-plugin registered its own
        config.register_opt_group(conf, er_config.group, er_config.opts)
        config.register_opt_group(conf, er_config.feature_group,
                                  er_config.feature_opts)

    def get_opt_lists(self):
        return [(er_config.group.name, er_config.opts),
                (er_config.feature_group.name, er_config.feature_opts),
                ("service_available", [er_config.service_option,
                                       er_config.heat_option])]

    def get_service_clients(self):
        # Tempest 47 has every client these tests need (images with
        # import_params for glance-download, the image cache, identity v3);
        # the one thing it lacks, the fault injector, is edge-refarch's own.
        return []
