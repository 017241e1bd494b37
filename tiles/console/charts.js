// ECharts with only the pieces the statistics page draws with (bar and line charts on a canvas),
// bundled on its own (/vendor/console-charts.js): the page loads it when it is first opened, so
// the console's first load does not carry a chart library most screens never use.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, LegendComponent, TitleComponent, DataZoomComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, TitleComponent, DataZoomComponent, CanvasRenderer]);
window.wanggeCharts = echarts;
